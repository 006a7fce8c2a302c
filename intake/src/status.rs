//! The states a stored row can be in, as enums. The database holds stable
//! ASCII codes (`pending`, `setup`, …); people see [`label`](Processing::label)s.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// An enum stored as a text code, with a Chinese label for people.
macro_rules! coded {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $code:literal, $label:literal;)+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order people see them.
            #[allow(dead_code)] // Not every list is shown.
            pub(crate) const ALL: &'static [$name] = &[$($name::$variant),+];

            /// What the database (and `gazette outbox`) holds.
            pub(crate) fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// What people read.
            pub(crate) fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }

            pub(crate) fn from_code(code: &str) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.code())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.code()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<$name> {
                let text = value.as_str()?;
                $name::from_code(text).ok_or_else(|| {
                    FromSqlError::Other(
                        format!(concat!("unknown ", stringify!($name), " {:?}"), text).into(),
                    )
                })
            }
        }
    };
}

coded! {
    /// Where an outbox row stands.
    Delivery {
        Pending = "pending", "待发送";
        Sent = "sent", "已发送";
        Failed = "failed", "失败";
    }
}

coded! {
    /// How a notification leaves: one outbox row per email and per fax number.
    Channel {
        Email = "email", "电子邮件";
        Fax = "fax", "传真";
    }
}

coded! {
    /// The office's work on a return (the admin pages); no `processing` row
    /// means [`Processing::Pending`].
    Processing {
        Pending = "pending", "待处理";
        SetUp = "setup", "已设置";
        FedBack = "feedback", "已反馈";
    }
}

coded! {
    /// How a return came in (its channel, as the admin pages name it).
    Source {
        Web = "web", "网页";
        Import = "import", "导入";
        /// A return sent back by email, read from the office mailbox.
        Mail = "mail", "邮件";
    }
}

impl Processing {
    /// A state as the list page's filter names it: the code or the label.
    pub(crate) fn from_query(s: &str) -> Option<Processing> {
        Processing::from_code(s)
            .or_else(|| Processing::ALL.iter().copied().find(|p| p.label() == s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn codes_round_trip_through_sqlite() {
        let c = Connection::open_in_memory().unwrap();
        for p in Processing::ALL {
            let back: Processing = c.query_row("SELECT ?1", [p], |r| r.get(0)).unwrap();
            assert_eq!(back, *p);
            let text: String = c.query_row("SELECT ?1", [p], |r| r.get(0)).unwrap();
            assert!(text.is_ascii(), "{text}");
        }
        let bad = c.query_row("SELECT '待处理'", [], |r| r.get::<_, Processing>(0));
        assert!(bad.is_err(), "labels are not codes");
        assert_eq!(Delivery::Failed.label(), "失败");
        assert_eq!(Channel::Fax.to_string(), "fax");
        assert_eq!(Source::from_code("mail").map(Source::label), Some("邮件"));
        assert_eq!(Processing::from_query("已反馈"), Some(Processing::FedBack));
        assert_eq!(Processing::from_query("setup"), Some(Processing::SetUp));
        assert_eq!(Processing::from_query("x"), None);
        assert_eq!(
            serde_json::to_string(&Delivery::Pending).unwrap(),
            "\"pending\""
        );
    }
}
