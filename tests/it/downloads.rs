//! Every kind of download, fetched as Chromium fetches it (`gzip, br,
//! deflate` accepted), arrives whole: the bytes equal what was stored, the
//! compressed transfer decodes to the same bytes, and a client that asks
//! for no compression gets them too. (A browser once got an empty file and
//! the server a panic, while the tests' client, which sent no
//! `Accept-Encoding`, passed.)

use crate::flows::{openssl_verifies, page, person};
use dimos_it::{Backend, Browser, TestApp, on_both_backends};
use sha2::{Digest, Sha256};
use std::io::Read;
use tokio::io::AsyncReadExt;

on_both_backends!(every_download_arrives_whole_under_compression);

/// The body of `path` for `b`: decoded by the browser-like client, raw
/// with `Accept-Encoding: gzip` (decoded here with flate2), and asked for
/// without compression. All three must be the same bytes.
pub(crate) async fn three_ways(
    app: &TestApp,
    b: &Browser<'_>,
    host: &str,
    path: &str,
) -> (String, Vec<u8>) {
    let cookie = b.cookie_header(host).unwrap_or_default();
    let res = app
        .get(host, path)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    let decoded = res.bytes().await.expect("the body arrives whole").to_vec();

    let raw_client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .build()
        .unwrap();
    let url = format!("http://{}{path}", app.addr);
    let port = app.port();
    let raw = raw_client
        .get(&url)
        .header("host", format!("{host}:{port}"))
        .header("cookie", &cookie)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200, "{path} (gzip)");
    let gzipped = raw
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let body = raw
        .bytes()
        .await
        .expect("the gzip body arrives whole")
        .to_vec();
    let unzipped = if gzipped {
        let mut out = vec![];
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .expect("a valid gzip stream");
        out
    } else {
        body
    };
    assert_eq!(
        unzipped, decoded,
        "{path}: gzip and the browser's decoding agree"
    );

    let plain = raw_client
        .get(&url)
        .header("host", format!("{host}:{port}"))
        .header("cookie", &cookie)
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none(), "{path}");
    assert_eq!(
        plain.bytes().await.unwrap().to_vec(),
        decoded,
        "{path} uncompressed"
    );
    (content_type, decoded)
}

async fn every_download_arrives_whole_under_compression(b: Backend) {
    let app = TestApp::spawn(b).await;
    let host = crate::parking::tenant(&app).await;
    let (case, _) = crate::parking::issued(&app, &host, "ΙΚΑ1234").await;
    let case_id: uuid::Uuid = case.parse().unwrap();
    let tenant = app
        .state
        .registry()
        .tenants()
        .into_iter()
        .find(|t| t.slug() == "alpha")
        .unwrap();
    let tdb = app.tenant_db(tenant.id).await;
    let docs = dimos_storage::documents::of_case(&tdb, case_id)
        .await
        .unwrap();
    assert!(docs.len() >= 2, "the assessment and the permit: {docs:?}");

    let citizen = person(&app, &host, "citizen-verified").await;
    let mut staff = person(&app, &host, "technical-employee").await;
    for d in &docs {
        let mut stored = vec![];
        app.state
            .objects()
            .get(&d.object_key)
            .await
            .unwrap()
            .read_to_end(&mut stored)
            .await
            .unwrap();
        assert_eq!(hex::encode(Sha256::digest(&stored)), d.sha256);
        for (who, path) in [
            (&citizen, format!("/cases/{case}/documents/{}", d.id)),
            (&staff, format!("/staff/cases/{case}/documents/{}", d.id)),
        ] {
            let (content_type, got) = three_ways(&app, who, &host, &path).await;
            assert_eq!(content_type, d.content_type, "{path}");
            assert_eq!(got, stored, "{path}: the bytes stored");
        }
    }

    // The permit's signature and the municipality's CA: OpenSSL verifies
    // what the browser downloaded.
    let (_, html) = page(&mut staff, &host, &format!("/staff/cases/{case}")).await;
    let reference: String = html
        .split("/verify/")
        .nth(1)
        .unwrap()
        .chars()
        .take(14)
        .collect();
    let anyone = Browser::new(&app);
    let (_, sig) = three_ways(
        &app,
        &anyone,
        &host,
        &format!("/verify/{reference}/signature.p7s"),
    )
    .await;
    let (_, ca) = three_ways(&app, &anyone, &host, "/signing/ca.pem").await;
    let permit = docs
        .iter()
        .find(|d| d.kind.as_deref() == Some("permit"))
        .unwrap();
    let (_, pdf) = three_ways(
        &app,
        &citizen,
        &host,
        &format!("/cases/{case}/documents/{}", permit.id),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("signature.p7s"), &sig).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    assert!(
        openssl_verifies(dir.path(), &pdf),
        "OpenSSL verifies the downloaded permit"
    );

    // The receipt and the reports' CSV.
    let (content_type, receipt) =
        three_ways(&app, &citizen, &host, &format!("/cases/{case}/receipt")).await;
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let receipt = String::from_utf8(receipt).unwrap();
    assert!(
        receipt.contains("Απόδειξη κατάθεσης αίτησης") && receipt.trim_end().ends_with("</html>"),
        "{receipt}"
    );
    let mayor = person(&app, &host, "mayor").await;
    let (content_type, csv) = three_ways(&app, &mayor, &host, "/staff/reports.csv").await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(String::from_utf8(csv).unwrap().lines().count() >= 2);
}
