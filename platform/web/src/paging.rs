//! Pages of a list: the links that carry a page's key (`after=`, `before=`)
//! and reading them back. The lists themselves are read by key
//! (`dimos_db::keyset`, `dimos_workflow::query::ListKey`), never by OFFSET.

use serde::Serialize;

/// Page links: `?after=KEY&page=N` (or `before=`) plus the other query parameters.
#[derive(Serialize)]
pub struct Pager {
    pub page: u64,
    pub pages: u64,
    pub total: u64,
    /// `total` is a lower bound: there are more.
    pub more: bool,
    pub prev: Option<String>,
    pub next: Option<String>,
}

pub fn pager<T>(p: &dimos_workflow::query::Page<T>, base: &str, params: &[(&str, &str)]) -> Pager {
    // Links carry the key of the row the next (or previous) page starts
    // after (or ends before), and the page's number for its label only.
    let link = |dir: &str, key: &str, n: u64| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
            q.append_pair(k, v);
        }
        q.append_pair(dir, key).append_pair("page", &n.to_string());
        format!("{base}?{}", q.finish())
    };
    Pager {
        page: p.page,
        pages: Ord::max(p.pages(), p.page),
        total: p.total,
        more: p.more,
        prev: p
            .prev
            .as_deref()
            .map(|k| link("before", k, p.page.saturating_sub(1).max(1))),
        next: p.next.as_deref().map(|k| link("after", k, p.page + 1)),
    }
}

/// Where a list's page is, from its link's `after`/`before` keys: a key
/// that none of our links could carry is a clear 400, not a first page.
pub fn position<K: dimos_workflow::query::ListKey>(
    after: Option<&str>,
    before: Option<&str>,
) -> crate::error::Result<dimos_workflow::query::Position<K>> {
    dimos_workflow::query::Position::parse(after, before).map_err(|_| {
        dimos_kernel::Error::BadRequest(
            "the page link is not valid; go back to the list's first page".into(),
        )
        .into()
    })
}

/// A page's number from a link's `page` (a label only: the key says
/// where): 1 to 10,000, whatever the address says.
pub fn page_of(p: Option<&str>) -> u64 {
    p.and_then(|p| p.parse::<u64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
        .min(10_000)
}
