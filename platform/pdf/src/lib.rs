//! Simple PDF documents the municipality issues (permits, certificates,
//! receipts): a title, headings, paragraphs and label–value rows on A4,
//! wrapped and paginated, in Greek or any script DejaVu Sans covers. The
//! font is embedded as a subset of the glyphs the document uses (Type 0 /
//! CIDFontType2, Identity-H, `subsetter`) with a ToUnicode map, so text can
//! be searched, copied and read aloud, in a file of a few kilobytes.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use std::collections::BTreeMap;
use std::io::Write;

/// DejaVu Sans (Bitstream Vera licence, see `fonts/DejaVuSans.LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const FONT_NAME: Name<'static> = Name(b"DejaVuSans");

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("the embedded font cannot be read: {0}")]
    Font(String),
    #[error("compressing: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    Field(String, String),
    Small(String),
    Space(f32),
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, PdfError> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data)?;
    Ok(z.finish()?)
}

/// The embedded font: only the glyphs a document uses, renumbered from 1
/// (the renumbered glyph id is the CID the text and the maps use).
struct Subset {
    bytes: Vec<u8>,
    remapper: subsetter::GlyphRemapper,
}

impl Subset {
    fn of(used: &BTreeMap<u16, char>) -> Result<Subset, PdfError> {
        let mut remapper = subsetter::GlyphRemapper::new();
        for gid in used.keys() {
            remapper.remap(*gid);
        }
        let bytes =
            subsetter::subset(FONT, 0, &remapper).map_err(|e| PdfError::Font(e.to_string()))?;
        Ok(Subset { bytes, remapper })
    }

    fn cid(&self, gid: u16) -> u16 {
        // Every glyph the text uses was remapped above; 0 is .notdef.
        self.remapper.get(gid).unwrap_or(0)
    }

    /// `ABCDEF+DejaVuSans`: subset fonts carry a tag of six capitals,
    /// here derived from the glyphs kept.
    fn name(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &self.bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        let tag: String = (0..6)
            .map(|i| char::from(b'A' + ((h >> (i * 8)) % 26) as u8))
            .collect();
        format!("{tag}+{}", String::from_utf8_lossy(FONT_NAME.0))
    }
}

/// A document under construction.
#[derive(Debug, Clone, Default)]
pub struct Document {
    title: String,
    author: String,
    subject: String,
    blocks: Vec<Block>,
}

struct Font<'a> {
    face: ttf_parser::Face<'a>,
    scale: f32,
}

impl Font<'_> {
    fn glyph(&self, c: char) -> u16 {
        self.face
            .glyph_index(c)
            .or_else(|| self.face.glyph_index('?'))
            .map(|g| g.0)
            .unwrap_or(0)
    }

    /// Width of a glyph in thousandths of the font size.
    fn advance(&self, gid: u16) -> f32 {
        f32::from(
            self.face
                .glyph_hor_advance(ttf_parser::GlyphId(gid))
                .unwrap_or(0),
        ) * self.scale
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.advance(self.glyph(c)))
            .sum::<f32>()
            * size
            / 1000.0
    }

    /// Lines of at most `max` points at `size`, broken at spaces (a word
    /// longer than a line is broken where it must be).
    fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = vec![];
        for para in text.split('\n') {
            let mut line = String::new();
            for word in para.split(' ') {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size) <= max || line.is_empty() {
                    line = candidate;
                } else {
                    lines.push(std::mem::take(&mut line));
                    line = word.to_owned();
                }
                while self.width(&line, size) > max && line.chars().count() > 1 {
                    let mut cut = line.chars().count() - 1;
                    while cut > 1
                        && self.width(&line.chars().take(cut).collect::<String>(), size) > max
                    {
                        cut -= 1;
                    }
                    lines.push(line.chars().take(cut).collect());
                    line = line.chars().skip(cut).collect();
                }
            }
            lines.push(line);
        }
        lines
    }
}

/// Positioned text on pages: (page, x, y, size, text).
type Placed = Vec<(usize, f32, f32, f32, String)>;

impl Document {
    pub fn new(title: &str, author: &str) -> Document {
        Document {
            title: title.to_owned(),
            author: author.to_owned(),
            subject: String::new(),
            blocks: vec![],
        }
    }

    /// The document's subject in its properties (where a signed document
    /// carries its verification code, readable without the page).
    pub fn subject(&mut self, text: &str) -> &mut Self {
        text.clone_into(&mut self.subject);
        self
    }

    pub fn title(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Title(text.to_owned()));
        self
    }

    pub fn heading(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Heading(text.to_owned()));
        self
    }

    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.to_owned()));
        self
    }

    pub fn field(&mut self, label: &str, value: &str) -> &mut Self {
        self.blocks
            .push(Block::Field(label.to_owned(), value.to_owned()));
        self
    }

    pub fn small(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Small(text.to_owned()));
        self
    }

    pub fn space(&mut self) -> &mut Self {
        self.blocks.push(Block::Space(12.0));
        self
    }

    fn layout(&self, font: &Font<'_>) -> (Placed, usize) {
        let width = PAGE_W - 2.0 * MARGIN;
        let mut placed: Placed = vec![];
        let mut page = 0;
        let mut y = PAGE_H - MARGIN;
        // Moves down one line (to a new page when this one is full) and
        // places the text there.
        fn put(
            placed: &mut Placed,
            (x, size, lead): (f32, f32, f32),
            text: String,
            y: &mut f32,
            page: &mut usize,
        ) {
            if *y - lead < MARGIN {
                *page += 1;
                *y = PAGE_H - MARGIN;
            }
            *y -= lead;
            placed.push((*page, x, *y, size, text));
        }
        for b in &self.blocks {
            match b {
                Block::Title(t) => {
                    for l in font.wrap(t, 18.0, width) {
                        put(&mut placed, (MARGIN, 18.0, 24.0), l, &mut y, &mut page);
                    }
                    y -= 10.0;
                }
                Block::Heading(t) => {
                    y -= 6.0;
                    for l in font.wrap(t, 13.0, width) {
                        put(&mut placed, (MARGIN, 13.0, 18.0), l, &mut y, &mut page);
                    }
                    y -= 4.0;
                }
                Block::Paragraph(t) => {
                    for l in font.wrap(t, 11.0, width) {
                        put(&mut placed, (MARGIN, 11.0, 15.0), l, &mut y, &mut page);
                    }
                    y -= 6.0;
                }
                Block::Small(t) => {
                    for l in font.wrap(t, 8.5, width) {
                        put(&mut placed, (MARGIN, 8.5, 11.0), l, &mut y, &mut page);
                    }
                }
                Block::Field(label, value) => {
                    let label_w = width * 0.35;
                    let labels = font.wrap(label, 10.0, label_w - 8.0);
                    let values = font.wrap(value, 11.0, width - label_w);
                    for i in 0..labels.len().max(values.len()) {
                        let l = labels.get(i).cloned().unwrap_or_default();
                        let v = values.get(i).cloned().unwrap_or_default();
                        put(&mut placed, (MARGIN, 10.0, 15.0), l, &mut y, &mut page);
                        placed.push((page, MARGIN + label_w, y, 11.0, v));
                    }
                    y -= 3.0;
                }
                Block::Space(h) => y -= h,
            }
        }
        (placed, page + 1)
    }

    /// The PDF's bytes.
    pub fn render(&self) -> Result<Vec<u8>, PdfError> {
        let face = ttf_parser::Face::parse(FONT, 0).map_err(|e| PdfError::Font(e.to_string()))?;
        let font = Font {
            scale: 1000.0 / f32::from(face.units_per_em()),
            face,
        };
        let (placed, pages) = self.layout(&font);

        let mut next = 1;
        let mut id = || {
            let r = Ref::new(next);
            next += 1;
            r
        };
        let catalog = id();
        let tree = id();
        let info = id();
        let type0 = id();
        let cid = id();
        let descriptor = id();
        let file = id();
        let cmap = id();
        let page_ids: Vec<(Ref, Ref)> = (0..pages).map(|_| (id(), id())).collect();

        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().map(|(p, _)| *p))
            .count(i32::try_from(pages).unwrap_or(i32::MAX));
        let mut props = pdf.document_info(info);
        props
            .title(TextStr(&self.title))
            .author(TextStr(&self.author))
            .producer(TextStr("Dimos"));
        if !self.subject.is_empty() {
            props.subject(TextStr(&self.subject));
        }
        drop(props);

        // Glyphs used, with what they stand for (for ToUnicode) and widths;
        // the embedded font keeps only those, renumbered.
        let mut used: BTreeMap<u16, char> = BTreeMap::new();
        for (_, _, _, _, text) in &placed {
            for c in text.chars() {
                used.entry(font.glyph(c)).or_insert(c);
            }
        }
        let subset = Subset::of(&used)?;
        for (n, (page_id, content_id)) in page_ids.iter().enumerate() {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
                .parent(tree)
                .contents(*content_id);
            page.resources().fonts().pair(Name(b"F1"), type0);
            page.finish();
            let mut content = Content::new();
            for (_, x, y, size, text) in placed.iter().filter(|p| p.0 == n) {
                if text.is_empty() {
                    continue;
                }
                let glyphs: Vec<u8> = text
                    .chars()
                    .flat_map(|c| subset.cid(font.glyph(c)).to_be_bytes())
                    .collect();
                content
                    .begin_text()
                    .set_font(Name(b"F1"), *size)
                    .next_line(*x, *y)
                    .show(Str(&glyphs))
                    .end_text();
            }
            pdf.stream(*content_id, &deflate(&content.finish())?)
                .filter(Filter::FlateDecode);
        }

        let name = subset.name();
        pdf.type0_font(type0)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(Name(name.as_bytes()))
            .system_info(system)
            .font_descriptor(descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        {
            let mut widths = cid_font.widths();
            for gid in used.keys() {
                widths.consecutive(subset.cid(*gid), [font.advance(*gid)]);
            }
        }
        cid_font.finish();

        let bbox = font.face.global_bounding_box();
        let s = font.scale;
        pdf.font_descriptor(descriptor)
            .name(Name(name.as_bytes()))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                f32::from(bbox.x_min) * s,
                f32::from(bbox.y_min) * s,
                f32::from(bbox.x_max) * s,
                f32::from(bbox.y_max) * s,
            ))
            .italic_angle(0.0)
            .ascent(f32::from(font.face.ascender()) * s)
            .descent(f32::from(font.face.descender()) * s)
            .cap_height(f32::from(font.face.capital_height().unwrap_or(700)) * s)
            .stem_v(80.0)
            .font_file2(file);

        let mut unicode = UnicodeCmap::new(Name(b"Dimos-UCS"), system);
        for (gid, c) in &used {
            unicode.pair(subset.cid(*gid), *c);
        }
        pdf.cmap(cmap, &unicode.finish());

        pdf.stream(file, &deflate(&subset.bytes)?)
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(subset.bytes.len()).unwrap_or(i32::MAX),
            );
        Ok(pdf.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greek_text_renders_into_a_pdf_with_the_font_embedded() {
        let mut d = Document::new("Άδεια στάθμευσης", "Δήμος Αλίμου");
        d.title("Άδεια στάθμευσης ΑμεΑ")
            .field("Δικαιούχος", "Γιώργος Νικολάου");
        for _ in 0..80 {
            d.paragraph("Κείμενο που αναδιπλώνεται σε πολλές γραμμές και σελίδες, ώστε να ελεγχθεί η σελιδοποίηση.");
        }
        let bytes = d.render().unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("/Identity-H") && text.contains("/ToUnicode"));
        assert!(text.contains("/FontFile2"));
        assert!(!text.contains("/Subject"), "no subject unless given");
        assert!(
            text.contains("+DejaVuSans"),
            "a subset font is named as one"
        );
        assert!(
            bytes.len() < 30_000,
            "only the glyphs used: {} bytes",
            bytes.len()
        );
        assert!(
            text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count() >= 2
                || text.contains("/Count 2")
                || text.contains("/Count 3"),
            "paginated"
        );
    }

    #[test]
    fn a_subject_is_in_the_properties_as_given() {
        let mut d = Document::new("Βεβαίωση", "Δήμος Αλίμου");
        d.subject("https://alimos.example/verify/K7QM-2XPD-9HWA");
        let text = String::from_utf8_lossy(&d.render().unwrap()).into_owned();
        assert!(text.contains("/Subject (https://alimos.example/verify/K7QM-2XPD-9HWA)"));
    }

    #[test]
    fn long_words_and_lines_are_wrapped_inside_the_margins() {
        let face = ttf_parser::Face::parse(FONT, 0).unwrap();
        let font = Font {
            scale: 1000.0 / f32::from(face.units_per_em()),
            face,
        };
        let lines = font.wrap(&"Α".repeat(200), 11.0, 200.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| font.width(l, 11.0) <= 200.0));
        let lines = font.wrap("μία δύο τρεις τέσσερις πέντε έξι", 11.0, 60.0);
        assert!(lines.len() >= 3, "{lines:?}");
    }
}

#[cfg(test)]
mod subset_tests {
    use super::*;

    #[test]
    fn the_subset_keeps_every_glyph_used_with_its_metrics() {
        let face = ttf_parser::Face::parse(FONT, 0).unwrap();
        let text = "Άδεια στάθμευσης ΑμεΑ — Άλιμος 2027, ΚΣ-12/2026";
        let mut used = BTreeMap::new();
        for c in text.chars() {
            used.entry(face.glyph_index(c).unwrap().0).or_insert(c);
        }
        let subset = Subset::of(&used).unwrap();
        assert!(
            subset.bytes.len() < FONT.len() / 10,
            "{} bytes",
            subset.bytes.len()
        );
        let small = ttf_parser::Face::parse(&subset.bytes, 0).unwrap();
        // .notdef, ours, and the parts accented letters are built from.
        let kept = usize::from(small.number_of_glyphs());
        assert!(
            kept > used.len() && kept < used.len() + 12,
            "{kept} for {}",
            used.len()
        );
        for (gid, c) in &used {
            let cid = subset.cid(*gid);
            assert!(cid > 0, "{c} kept");
            assert_eq!(
                small.glyph_hor_advance(ttf_parser::GlyphId(cid)),
                face.glyph_hor_advance(ttf_parser::GlyphId(*gid)),
                "{c}: same width"
            );
            assert_eq!(
                small.glyph_bounding_box(ttf_parser::GlyphId(cid)),
                face.glyph_bounding_box(ttf_parser::GlyphId(*gid)),
                "{c}: same outline box"
            );
        }
        let name = subset.name();
        assert!(
            name.ends_with("+DejaVuSans") && name.len() == 6 + 1 + 10,
            "{name}"
        );
        assert!(name[..6].bytes().all(|b| b.is_ascii_uppercase()));
    }
}
