//! Each form's page and its printable blank.

use super::*;

pub(super) fn render_form(ctx: &Shared, f: &FormDef, sizes: &Sizes) -> Vec<Rendered> {
    let source = format!("content/forms/{}.toml", f.id);
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let view = f.view(&[], &forms::Errors::default(), epoch);
    let page_title = match f.annex {
        Some(n) => format!("附件{n} {}", f.title),
        None => f.title.clone(),
    };
    let intake = ctx.site.config.intake.url.trim_end_matches('/');
    let mut results = Vec::new();
    for (output, template) in [
        (form_page(f), "form.html"),
        (form_print(f), "form_print.html"),
    ] {
        let root = links::root_prefix(&output);
        let mut c = ctx.base(&output, &page_title, &f.description);
        c.insert("form", &view);
        let action = if intake.is_empty() {
            format!("/forms/{}", f.id)
        } else {
            format!("{intake}/forms/{}", f.id)
        };
        c.insert("action", &action);
        c.insert("xlsx_url", &format!("{root}{}", form_xlsx(f)));
        c.insert(
            "xlsx_size",
            &format_size(sizes.files.get(&form_xlsx(f)).copied().unwrap_or(0)),
        );
        c.insert("print_url", &format!("{root}{}", form_print(f)));
        c.insert("page_url", &format!("{root}{}", form_page(f)));
        results.push(
            ctx.render(template, &c, &source)
                .map(|html| (output, html.into_bytes().into())),
        );
    }
    results
}
