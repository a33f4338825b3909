//! `GET /dashboard`: the live operator page, one self-contained HTML document (styles and scripts inlined at
//! compile time from `assets/dashboard/`), so it works offline and from a single binary.

use actix_web::http::header;
use actix_web::HttpResponse;

/// The page: HTML shell, stylesheet, chart code and the page's script, joined at compile time.
const PAGE: &str = concat!(
    include_str!("../../assets/dashboard/head.html"),
    "<style>\n",
    include_str!("../../assets/dashboard/dashboard.css"),
    "</style>\n",
    include_str!("../../assets/dashboard/body.html"),
    "<script>\n",
    include_str!("../../assets/dashboard/charts.js"),
    include_str!("../../assets/dashboard/dashboard.js"),
    "</script>\n</body>\n</html>\n",
);

pub async fn dashboard() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The page only fetches its own origin and runs only its own inline code.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}
