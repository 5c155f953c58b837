//! `/problems/<code>`: what each error's `type` names (RFC 9457 §3.1.1
//! says it should lead somewhere that explains it). One page per stable
//! code, in Greek and English, with its HTTP status.

use axum::extract::Path;
use axum::response::Html;
use dimos_kernel::Error;
use dimos_web::error::{AppError, Result};
use dimos_web::ui::Ui;
use minijinja::context;

pub async fn page(ui: Ui, Path(code): Path<String>) -> Result<Html<String>> {
    let e = Error::one_of_each()
        .into_iter()
        .find(|e| e.code() == code)
        .ok_or(AppError(Error::NotFound))?;
    ui.render(
        "api/problem.html",
        context! {
            code => e.code(),
            status => e.status(),
            title => ui.t(&e.title_key()),
            help => ui.t(&format!("{}-help", e.title_key())),
        },
    )
}
