//! Text inside the report's markup: the one escaping that HTML content, HTML attributes and
//! SVG text share, and the head of the charts drawn by hand (rankings, stacked bars).

/// Escapes text for HTML and SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The opening of a hand-drawn chart's SVG document, `width` by `height` pixels: the `<svg>`
/// element, a white background and `title` in bold at the top left. The caller closes it.
pub fn svg_head(width: u32, height: u32, title: &str) -> String {
    format!(
        "<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\">\n\
         <rect width=\"{width}\" height=\"{height}\" fill=\"#FFFFFF\"/>\n\
         <text x=\"16\" y=\"30\" font-size=\"18\" font-weight=\"bold\">{}</text>\n",
        escape(title)
    )
}
