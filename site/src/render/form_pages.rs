//! Each form's page and its printable blank.

use super::context::{Shared, Sizes};
use super::emit::OneFile;
use super::index::{form_page, form_print, form_xlsx};
use super::links;
use forms::paths::{FormPage, Links};
use forms::FormDef;

pub(super) fn render_form(ctx: &Shared, f: &FormDef, sizes: &Sizes) -> Vec<OneFile> {
    let source = format!("content/forms/{}.toml", f.id);
    // A form that refuses late returns is built closed once its deadline
    // has passed (the intake still refuses on its own clock); one that
    // accepts them is always built open.
    let now = match f.after_deadline {
        forms::AfterDeadline::Refuse => chrono::Utc::now(),
        forms::AfterDeadline::Accept => chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
    };
    let view = f.view(&[], &forms::Errors::default(), now);
    let page_title = match f.annex {
        Some(n) => format!("附件{n} {}", f.title),
        None => f.title.clone(),
    };
    let xlsx_bytes = sizes.files.get(&form_xlsx(f)).copied();
    let mut results = Vec::new();
    for (output, template) in [
        (form_page(f), "form.html"),
        (form_print(f), "form_print.html"),
    ] {
        let links = Links::new(links::root_prefix(&output), &ctx.site.config.intake.url);
        let page = FormPage::new(view.clone(), &links, xlsx_bytes);
        let mut c = ctx.base(&output, &page_title, &f.description);
        c.extend(page_context(&page));
        let name = format!("{page_title} 空白表格.pdf");
        if let Some(pdf) = ctx.pdf_link(
            &super::pdf::form_pdf(f),
            &links::root_prefix(&output),
            name,
            Some(sizes),
        ) {
            c.insert("pdf", &pdf);
        }
        results.push(
            ctx.render(template, &c, &source)
                .map(|html| (output, html.into_bytes().into())),
        );
    }
    results
}

/// `FormPage`'s fields as top-level template variables.
fn page_context(page: &FormPage) -> tera::Context {
    // A struct of strings always serialises to an object.
    tera::Context::from_serialize(page).unwrap_or_default()
}
