//! Stored values as people read them: times in China Standard Time and the
//! answers under their labels.

use forms::FormDef;

/// (label, value) for every answer, in the form's order; a field no longer in
/// the definition is shown under its name.
pub(crate) fn answer_rows(
    def: Option<&FormDef>,
    answers: &forms::Answers,
) -> Vec<(String, String)> {
    answers
        .0
        .iter()
        .map(|(name, value)| {
            let label = def
                .and_then(|d| d.field(name))
                .map(|f| f.label.clone())
                .unwrap_or_else(|| name.clone());
            (label, value.display())
        })
        .collect()
}

/// China Standard Time, as people write it: 2016年7月20日 10:31.
pub(crate) fn cst_text(ms: i64) -> String {
    use chrono::{Datelike, TimeZone, Timelike};
    let Some(tz) = chrono::FixedOffset::east_opt(8 * 3600) else {
        return String::new();
    };
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => format!(
            "{}年{}月{}日 {:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_standard_time() {
        // 2016-07-20 02:31 UTC is 10:31 in Meizhou.
        let ms = chrono::DateTime::parse_from_rfc3339("2016-07-20T02:31:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(cst_text(ms), "2016年7月20日 10:31");
    }
}
