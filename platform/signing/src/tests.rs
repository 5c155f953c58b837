use super::*;
use std::process::Command;

fn fixture() -> (KeyPair, KeyPair) {
    let ca = KeyPair::new_ca("Δήμος Αλίμου", 10).unwrap();
    let staff = ca.issue("Νίκος Κωνσταντίνου", "Δήμος Αλίμου", 365).unwrap();
    (ca, staff)
}

#[test]
fn a_signature_verifies_and_a_tampered_file_does_not() {
    let (ca, staff) = fixture();
    let doc = "Άδεια στάθμευσης αρ. 17/2026".as_bytes();
    let sig = sign_detached(&staff, &ca.cert, doc).unwrap();
    let now = std::time::SystemTime::now();
    let r = verify_detached(&sig, doc, &ca.cert, &[], now).unwrap();
    assert!(r.is_valid(), "{r:?}");
    assert!(r.signer.contains("Νίκος Κωνσταντίνου"));
    assert!(r.signed_at.is_some());
    let r = verify_detached(&sig, b"tampered", &ca.cert, &[], now).unwrap();
    assert!(!r.intact && !r.is_valid());
    // Another municipality's CA does not vouch for this signer.
    let other = KeyPair::new_ca("Δήμος Παπάγου", 10).unwrap();
    assert!(
        !verify_detached(&sig, doc, &other.cert, &[], now)
            .unwrap()
            .trusted
    );
    // Revoked, and later expired.
    let r = verify_detached(&sig, doc, &ca.cert, &[staff.serial_hex()], now).unwrap();
    assert_eq!(r.certificate_status, "revoked");
    let later = now + std::time::Duration::from_secs(400 * 86_400);
    assert_eq!(
        verify_detached(&sig, doc, &ca.cert, &[], later)
            .unwrap()
            .certificate_status,
        "expired"
    );
    // Keys survive storage.
    let back = KeyPair::from_der(&staff.key_der().unwrap(), &staff.cert.to_der().unwrap()).unwrap();
    assert_eq!(back.serial_hex(), staff.serial_hex());
}

/// OpenSSL, which we did not write, agrees: the intact file verifies
/// against the municipality's CA, a tampered one fails.
#[test]
fn openssl_verifies_our_signatures() {
    let (ca, staff) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let doc = "Απόφαση δημοτικού συμβουλίου 42/2026\n".as_bytes();
    std::fs::write(p("doc.txt"), doc).unwrap();
    std::fs::write(p("sig.der"), sign_detached(&staff, &ca.cert, doc).unwrap()).unwrap();
    std::fs::write(p("ca.pem"), ca.cert_pem().unwrap()).unwrap();
    std::fs::write(p("bad.txt"), b"Apofasi 43/2026\n").unwrap();
    let verify = |content: &str| {
        Command::new("openssl")
            .args([
                "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any",
            ])
            .arg("-in")
            .arg(p("sig.der"))
            .arg("-content")
            .arg(p(content))
            .arg("-CAfile")
            .arg(p("ca.pem"))
            .arg("-out")
            .arg(p("out"))
            .output()
            .unwrap()
    };
    let ok = verify("doc.txt");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = verify("bad.txt");
    assert!(!bad.status.success(), "a tampered file must fail");
    // The CAdES-BES attributes are there for any tool to read.
    let printed = Command::new("openssl")
        .args(["cms", "-cmsout", "-print", "-inform", "DER", "-in"])
        .arg(p("sig.der"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&printed.stdout);
    for attr in [
        "signingTime",
        "messageDigest",
        "contentType",
        "id-smime-aa-signingCertificateV2",
    ] {
        assert!(text.contains(attr), "{attr} missing:\n{text}");
    }
}
