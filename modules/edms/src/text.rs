//! The words of a registered file, for the search: a PDF's text through
//! `pdf-extract`, a DOCX's or ODT's through its XML (`zip`, `quick-xml`).
//! A scanned page is an image and gives nothing: such a document is found
//! by its subject, correspondent and number. Pure: bytes in, text out;
//! nothing a file holds makes it fail (a broken file gives no text).

use std::io::Read;

/// The most text kept of one file (characters): a 300-page report is
/// searchable by what it says early on; the row stays small.
pub const MAX_CHARS: usize = 100_000;

/// The content types whose text is read.
pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const ODT: &str = "application/vnd.oasis.opendocument.text";

/// The content types [`extract`] reads.
pub const READABLE: [&str; 3] = ["application/pdf", DOCX, ODT];

/// The text of a file of `content_type`, white space tidied and cut at
/// [`MAX_CHARS`]; empty when there is none to read.
pub fn extract(content_type: &str, bytes: &[u8]) -> String {
    let raw = match content_type {
        "application/pdf" => pdf(bytes),
        DOCX => office(bytes, "word/document.xml", &["w:p"], "w:t"),
        ODT => office(bytes, "content.xml", &["text:p", "text:h"], ""),
        _ => None,
    };
    tidy(&raw.unwrap_or_default())
}

fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut len = 0;
    for word in text.split_whitespace() {
        let n = word.chars().count();
        if len + n + 1 >= MAX_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            len += 1;
        }
        out.extend(word.chars().filter(|c| !c.is_control()));
        len += n;
    }
    out
}

fn pdf(bytes: &[u8]) -> Option<String> {
    // The crate panics on some malformed files instead of answering an
    // error; a file someone uploaded must never take the server with it.
    std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes).ok())
        .ok()
        .flatten()
}

/// The text of an office document's main XML part: every text node (or,
/// with `text_tag`, those inside it), a paragraph ending in a space.
fn office(bytes: &[u8], part: &str, paragraphs: &[&str], text_tag: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let entry = zip.by_name(part).ok()?;
    // A zip bomb stops at 20 MB of XML.
    let mut xml = String::new();
    entry.take(20 << 20).read_to_string(&mut xml).ok()?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut out = String::new();
    let mut inside = text_tag.is_empty();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if !text_tag.is_empty() && e.name().as_ref() == text_tag => {
                inside = true;
            }
            Ok(Event::End(e)) if !text_tag.is_empty() && e.name().as_ref() == text_tag => {
                inside = false;
            }
            Ok(Event::End(e)) if paragraphs.contains(&e.name().as_ref()) => out.push(' '),
            Ok(Event::Text(t)) if inside => out.push_str(&t.into_inner()),
            Ok(Event::GeneralRef(r)) if inside => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    out.push_str(match r.into_inner().as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        if out.len() > MAX_CHARS * 4 {
            break;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zipped(part: &str, xml: &str) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(part, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(xml.as_bytes()).unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_docx_gives_its_paragraphs() {
        let xml = r#"<?xml version="1.0"?><w:document xmlns:w="x"><w:body>
            <w:p><w:r><w:t>Αίτηση για</w:t></w:r><w:r><w:t xml:space="preserve"> άδεια &amp; στάθμευση</w:t></w:r></w:p>
            <w:p><w:r><w:instrText>HYPERLINK</w:instrText><w:t>Οδός Ποσειδώνος</w:t></w:r></w:p>
        </w:body></w:document>"#;
        assert_eq!(
            extract(DOCX, &zipped("word/document.xml", xml)),
            "Αίτηση για άδεια & στάθμευση Οδός Ποσειδώνος"
        );
    }

    #[test]
    fn an_odt_gives_its_text() {
        let xml = r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text>
            <text:h>Απόφαση</text:h><text:p>Εγκρίνεται η <text:span>δαπάνη</text:span>.</text:p>
        </office:text></office:body></office:document-content>"#;
        assert_eq!(
            extract(ODT, &zipped("content.xml", xml)),
            "Απόφαση Εγκρίνεται η δαπάνη."
        );
    }

    #[test]
    fn broken_files_give_nothing_and_never_panic() {
        for ct in ["application/pdf", DOCX, ODT, "image/png"] {
            assert_eq!(extract(ct, b""), "");
            assert_eq!(extract(ct, b"%PDF-1.7\n1 0 obj << /Type /Catalog"), "");
            assert_eq!(extract(ct, &[0x50, 0x4b, 3, 4, 0, 0, 0]), "");
        }
    }

    #[test]
    fn a_pdf_of_ours_gives_its_greek_text() {
        let mut d = dimos_pdf::Document::new("Δοκιμή", "Δήμος Αλίμου");
        d.title("Δήμος Αλίμου")
            .heading("Βεβαίωση")
            .paragraph("Ο ΠΟΣΕΙΔΏΝΑΣ κατοικεί στην οδό Θησέως");
        let bytes = d.render().unwrap();
        let text = extract("application/pdf", &bytes);
        let folded = dimos_kernel::greek::fold(&text);
        assert!(folded.contains("ποσειδωνασ"), "{text}");
        assert!(folded.contains("θησεωσ"), "{text}");
    }

    #[test]
    fn long_text_is_cut_at_a_word() {
        let long = "λέξη ".repeat(MAX_CHARS);
        let t = tidy(&long);
        assert!(t.chars().count() < MAX_CHARS);
        assert!(t.ends_with("λέξη"));
    }
}
