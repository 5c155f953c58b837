//! End to end against an OpenID Connect provider we did not write:
//! npm's oidc-provider (OpenID-certified), started on loopback.

use dimos_it::{Backend, Browser, Options, TestApp, on_both_backends, tenant_body, workspace_root};
use dimos_kernel::config::{ClaimMapping, ProviderConfig, Secret};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

on_both_backends!(citizens_sign_in_through_an_external_certified_provider);

struct Node(Child);
impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn citizens_sign_in_through_an_external_certified_provider(b: Backend) {
    let dir = workspace_root().join("tests/node");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "run `npm ci --prefix tests/node` (infra/test.sh does)"
    );
    let idp_port = free_port();
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let cfg_issuer = issuer.clone();
    let app = TestApp::spawn_with(
        b,
        Options {
            tweak: Box::new(move |c| {
                c.identity.providers.insert(
                    "national".into(),
                    ProviderConfig {
                        issuer: cfg_issuer,
                        client_id: "dimos".into(),
                        client_secret: Some(Secret::new("external-secret")),
                        client_secret_file: None,
                        scopes: vec![
                            "openid".into(),
                            "profile".into(),
                            "email".into(),
                            "phone".into(),
                        ],
                        claims: ClaimMapping::default(),
                        acr_levels: Default::default(),
                    },
                );
                c.identity.default_provider = "national".into();
            }),
            ..Options::default()
        },
    )
    .await;
    app.create_tenant(tenant_body("alpha", "Άλφα")).await;
    let _node = Node(
        Command::new("node")
            .arg("oidc-provider.mjs")
            .current_dir(&dir)
            .env("PORT", idp_port.to_string())
            .env(
                "REDIRECT_URIS",
                format!("http://alpha.localhost:{}/auth/callback", app.port()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts"),
    );
    let start = Instant::now();
    while reqwest::get(format!("{issuer}/.well-known/openid-configuration"))
        .await
        .is_err()
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "oidc-provider did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut browser = Browser::new(&app);
    let (page, url) = browser
        .get(&browser.url("alpha.localhost", "/auth/login?next=/account"))
        .await;
    assert_eq!(url, browser.url("alpha.localhost", "/account"));
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Κώστας Ανδρέου"),
        "claims from the external provider's userinfo"
    );
    assert!(html.contains("200000018"), "the tax id claim is mapped");
    assert!(
        html.contains("Μη επαληθευμένος"),
        "no acr asserted: unverified"
    );

    // Sign-out ends the provider's session too (RP-initiated logout).
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = browser
        .request(
            reqwest::Method::POST,
            &browser.url("alpha.localhost", "/auth/logout"),
            Some(&[("_csrf", &csrf)]),
        )
        .await;
    assert_eq!(res.status(), 303);
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with(&format!("{issuer}/session/end")), "{to}");
}
