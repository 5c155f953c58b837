//! Documents on a real S3-compatible server (PyPI moto, started here):
//! upload and download through the citizen's case page, a range of sizes,
//! limits, content checks, tenant-prefixed keys, a tampered object caught
//! by its SHA-256, and orphaned objects swept.

use dimos_it::{Backend, Browser, Options, TestApp, csrf_of, on_both_backends, tenant_with_grants};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

on_both_backends!(
    documents_live_in_s3_under_the_tenants_prefix,
    an_object_store_outage_refuses_submissions_and_leaves_nothing,
);

/// The object store stops while citizens submit applications with
/// documents: each is refused with 503 and `Retry-After` before anything
/// is written (before issue 16: 500, and a case with its protocol number
/// and no documents), and `/readyz` names what is down.
async fn an_object_store_outage_refuses_submissions_and_leaves_nothing(b: Backend) {
    use crate::submissions::{citizens, count, form, send};
    let mut moto = Moto::start().await;
    let (app, _) = app_on_s3(b, &moto, |_| {}).await;
    let host = crate::parking::tenant(&app).await;
    let people = citizens(&app, &host, 2).await;
    let key = uuid::Uuid::new_v4().to_string();
    // While the store is up it is accepted. On a loaded machine (the whole
    // suite on two cores) moto itself can be slow enough to count as down:
    // the client then does what a 503 asks, tries again with the same
    // form, and gets one case (the key makes the retry safe).
    let mut status = 0;
    for _ in 0..3 {
        let again = form(&people[0].1, &key, "ΙΚΥ-1000");
        status = send(&app, &host, &people[0].0, again).await.0;
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(status, 303, "accepted while the store is up");
    let ready = app.get("127.0.0.1", "/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let _ = moto.child.kill();
    let _ = moto.child.wait();
    for (i, (cookie, csrf)) in people.iter().enumerate() {
        let key = uuid::Uuid::new_v4().to_string();
        let res = app
            .post(&host, "/parking/apply")
            .header("cookie", cookie)
            .multipart(form(csrf, &key, &format!("ΙΚΥ-20{i:02}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "5");
        let html = res.text().await.unwrap();
        assert!(html.contains("προσωρινά μη διαθέσιμη"), "{html}");
    }
    let cases = "SELECT COUNT(*) FROM cases";
    assert_eq!(count(&app, cases).await, 1, "no case from the refused ones");
    let numbers = "SELECT COUNT(*) FROM protocol_entries";
    assert_eq!(count(&app, numbers).await, 1, "no protocol number spent");
    let rows = "SELECT COUNT(*) FROM documents";
    assert_eq!(
        count(&app, rows).await,
        2,
        "the first case's two documents only"
    );
    let ready = app.get("127.0.0.1", "/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["down"], json!(["object-store"]));
}

/// With `s3_presign_seconds`, an authorized download is a redirect to a
/// short-lived URL of the S3 server itself, which names the file and
/// forces a download; without the authorization there is no URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_can_redirect_to_short_lived_presigned_urls() {
    let moto = Moto::start().await;
    let (app, _) = app_on_s3(Backend::Sqlite, &moto, |c| {
        c.storage.s3_presign_seconds = 60;
    })
    .await;
    let host = "alpha.localhost";
    let (mut citizen, case, csrf) = citizen_with_case(&app).await;
    let doc = pdf(5000);
    let status = upload(
        &citizen,
        &app,
        host,
        &case,
        &csrf,
        "Άδεια οδήγησης.pdf",
        doc.clone(),
    )
    .await;
    assert_eq!(status, 303);
    let (res, _) = citizen
        .get(&citizen.url(host, &format!("/cases/{case}")))
        .await;
    let html = res.text().await.unwrap().replace("&#x2f;", "/");
    let href = html
        .split(&format!("href=\"/cases/{case}/documents/"))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let path = format!("/cases/{case}/documents/{href}");
    let url = citizen.url(host, &path);
    let res = citizen.request(reqwest::Method::GET, &url, None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&moto.url("/")), "{location}");
    assert!(location.contains("X-Amz-Expires=60") && location.contains("X-Amz-Signature="));
    // S3 answers with the headers the URL asks for (moto ignores them, so
    // the request is what we can check here): a download, named.
    let query = url::Url::parse(&location).unwrap();
    let asked: std::collections::HashMap<String, String> =
        query.query_pairs().into_owned().collect();
    let disposition = &asked["response-content-disposition"];
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("%CE%86%CE%B4"),
        "the Greek name, encoded: {disposition}"
    );
    assert_eq!(asked["response-content-type"], "application/pdf");
    let direct = reqwest::get(&location).await.unwrap();
    assert_eq!(direct.status(), 200);
    assert_eq!(direct.bytes().await.unwrap().to_vec(), doc);
    // Another citizen asking gets no URL at all.
    let mut stranger = Browser::new(&app);
    stranger.sign_in(host, "citizen-verified", "/").await;
    let url = stranger.url(host, &path);
    let res = stranger.request(reqwest::Method::GET, &url, None).await;
    assert_eq!(res.status(), 404);
    assert!(res.headers().get("location").is_none());
}

struct Moto {
    port: u16,
    child: Child,
}

impl Moto {
    async fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (infra/test.sh installs it)");
        let m = Moto { port, child };
        for _ in 0..200 {
            if reqwest::get(m.url("/")).await.is_ok() {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("moto did not start");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A raw S3 request, as an operator's tool would make it (moto checks
    /// that a request is signed, not the signature).
    fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, self.url(path))
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header("content-type", "application/octet-stream")
    }

    async fn put(&self, path: &str, body: Vec<u8>) {
        let res = self
            .raw(reqwest::Method::PUT, path)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "PUT {path}: {}", res.status());
    }

    /// Keys in the bucket, from the S3 API's XML listing.
    async fn keys(&self, bucket: &str) -> Vec<String> {
        let xml = self
            .raw(reqwest::Method::GET, &format!("/{bucket}?list-type=2"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        xml.split("<Key>")
            .skip(1)
            .map(|s| s.split("</Key>").next().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn upload(
    b: &Browser<'_>,
    app: &TestApp,
    host: &str,
    case: &str,
    csrf: &str,
    name: &str,
    bytes: Vec<u8>,
) -> u16 {
    let form = reqwest::multipart::Form::new()
        .text("_csrf", csrf.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    let cookie = b.cookie_header(host).unwrap();
    app.post(host, &format!("/cases/{case}/documents"))
        .header("cookie", cookie)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn pdf(len: usize) -> Vec<u8> {
    let mut v = b"%PDF-1.7\n".to_vec();
    v.extend((0..len.saturating_sub(9)).map(|i| (i % 251) as u8));
    v
}

/// An app storing documents in a new bucket of `moto`.
async fn app_on_s3(
    b: Backend,
    moto: &Moto,
    more: impl Fn(&mut dimos_kernel::config::Config) + Send + Sync + 'static,
) -> (TestApp, String) {
    let bucket = format!("dimos-{}", uuid::Uuid::new_v4().simple());
    moto.put(&format!("/{bucket}"), vec![]).await;
    let endpoint = moto.url("");
    let bucket_for_app = bucket.clone();
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(move |c| {
                c.storage.backend = "s3".into();
                c.storage.s3_bucket = bucket_for_app;
                c.storage.s3_region = "us-east-1".into();
                c.storage.s3_endpoint = endpoint;
                c.storage.s3_path_style = true;
                c.storage.s3_sse = "AES256".into();
                c.storage.s3_access_key_id = Some(dimos_kernel::config::Secret::new("test"));
                c.storage.s3_secret_access_key = Some(dimos_kernel::config::Secret::new("test"));
                c.storage.max_upload_bytes = 2 * 1024 * 1024;
                c.storage.max_case_bytes = 8 * 1024 * 1024;
                more(c);
            }),
            ..Options::default()
        },
    )
    .await;
    (app, bucket)
}

/// Two municipalities with the example module; a citizen of the first
/// files a request. Returns the citizen, the case, and a CSRF token.
async fn citizen_with_case(app: &TestApp) -> (Browser<'_>, String, String) {
    for slug in ["alpha", "beta"] {
        tenant_with_grants(
            app,
            slug,
            slug,
            &[("technical-employee", "technical-employee")],
        )
        .await;
        app.enable_module(slug, "example", json!({})).await;
    }
    let host = "alpha.localhost";
    let mut citizen = Browser::new(app);
    citizen.sign_in(host, "citizen", "/").await;
    let (res, _) = citizen
        .get(&citizen.url(host, "/example/requests/new"))
        .await;
    let csrf = csrf_of(&res.text().await.unwrap());
    let res = citizen
        .request(
            reqwest::Method::POST,
            &citizen.url(host, "/example/requests"),
            Some(&[
                ("_csrf", csrf.as_str()),
                ("title", "Με αρχεία"),
                ("text", "x"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let (res, _) = citizen.get(&citizen.url(host, "/api/cases")).await;
    let case = res.json::<Value>().await.unwrap()["cases"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (citizen, case, csrf)
}

async fn documents_live_in_s3_under_the_tenants_prefix(b: Backend) {
    let moto = Moto::start().await;
    let (app, bucket) = app_on_s3(b, &moto, |_| {}).await;
    let host = "alpha.localhost";
    let (mut citizen, case, csrf) = citizen_with_case(&app).await;

    // A range of sizes goes up and comes back byte for byte.
    let sizes = [10, 64 * 1024, 1024 * 1024 + 7, 2 * 1024 * 1024];
    for (i, n) in sizes.iter().enumerate() {
        assert_eq!(
            upload(
                &citizen,
                &app,
                host,
                &case,
                &csrf,
                &format!("f{i}.pdf"),
                pdf(*n)
            )
            .await,
            303,
            "{n} bytes"
        );
    }
    let png = {
        let mut v = vec![
            0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
        ];
        v.extend([0u8; 32]);
        v
    };
    assert_eq!(
        upload(&citizen, &app, host, &case, &csrf, "photo.png", png.clone()).await,
        303
    );
    // Over the limit; and a page pretending to be a PDF.
    assert_eq!(
        upload(
            &citizen,
            &app,
            host,
            &case,
            &csrf,
            "big.pdf",
            pdf(2 * 1024 * 1024 + 1)
        )
        .await,
        422
    );
    assert_eq!(
        upload(
            &citizen,
            &app,
            host,
            &case,
            &csrf,
            "x.pdf",
            b"<svg onload=alert(1)>".to_vec()
        )
        .await,
        422
    );

    let (res, _) = citizen
        .get(&citizen.url(host, &format!("/cases/{case}")))
        .await;
    let html = res.text().await.unwrap().replace("&#x2f;", "/");
    let hrefs: Vec<String> = html
        .split(&format!("href=\"/cases/{case}/documents/"))
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect();
    assert_eq!(hrefs.len(), 5);
    for (href, expected) in hrefs.iter().zip(sizes.iter().map(|n| pdf(*n)).chain([png])) {
        let (res, _) = citizen
            .get(&citizen.url(host, &format!("/cases/{case}/documents/{href}")))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().await.unwrap().to_vec(), expected);
    }

    // Keys are the tenant's id and a random id: nothing the citizen typed.
    let alpha = app.state.registry().by_slug("alpha").unwrap().id;
    let prefix = format!("{}/", alpha.uuid().simple());
    let keys = moto.keys(&bucket).await;
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&prefix) && !k.contains("pdf") && !k.contains("photo"))
    );

    // A changed object is caught by its SHA-256: the download does not complete.
    let first = keys.iter().min().unwrap().clone();
    moto.put(
        &format!("/{bucket}/{first}"),
        pdf(10).into_iter().rev().collect(),
    )
    .await;
    let cookie = citizen.cookie_header(host).unwrap();
    let mut broken = 0;
    for href in &hrefs {
        let sent = app
            .get(host, &format!("/cases/{case}/documents/{href}"))
            .header("cookie", &cookie)
            .send()
            .await;
        // The server cuts the response short: at the headers for a small
        // file, in the body for a large one.
        let complete = match sent {
            Ok(res) => res.bytes().await.is_ok(),
            Err(_) => false,
        };
        if !complete {
            broken += 1;
        }
    }
    assert_eq!(broken, 1, "exactly the tampered document fails");

    // An object no document points at is swept once it is a day old.
    moto.put(
        &format!("/{bucket}/{prefix}0123456789abcdef"),
        b"orphan".to_vec(),
    )
    .await;
    let tdb = app.tenant_db(alpha).await;
    let removed = dimos_storage::sweep_orphans(
        app.state.objects().as_ref(),
        &tdb,
        chrono::Utc::now() + chrono::Duration::days(2),
    )
    .await
    .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(moto.keys(&bucket).await.len(), 5);
}
