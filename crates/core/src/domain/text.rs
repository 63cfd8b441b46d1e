//! Each of the core's enums that is written as text (in config files, stores, job
//! records, command lines) has exactly one table of its spellings, here in the core,
//! so a store, a config reader and a renderer can never disagree about a word.

/// Declares a fieldless enum with its text form: `as_str`, `parse`, `ALL`,
/// [`Display`](std::fmt::Display) and [`FromStr`](std::str::FromStr). The first
/// spelling of a variant is how it is written; further ones (after `|`) are accepted
/// when read.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $text:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$vmeta])*
                $variant,
            )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The spellings `parse` accepts first, one per variant, in order.
            pub const SPELLINGS: &'static [&'static str] = &[$($text),+];

            /// The text form.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Reads the text form.
            ///
            /// # Errors
            /// [`ValidationError::UnknownValue`](crate::domain::ValidationError::UnknownValue)
            /// naming what was read and every accepted spelling.
            pub fn parse(text: &str) -> Result<Self, $crate::domain::ValidationError> {
                match text {
                    $($text $(| $alias)* => Ok(Self::$variant),)+
                    other => Err($crate::domain::ValidationError::UnknownValue {
                        what: $what,
                        input: other.to_owned(),
                        expected: Self::SPELLINGS,
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::ValidationError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
#[allow(unreachable_pub)]
mod tests {
    use crate::domain::ValidationError;

    text_enum! {
        /// A test enum.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Shade as "shade" {
            /// Light.
            Light = "light" | "pale",
            /// Dark.
            Dark = "dark",
        }
    }

    #[test]
    fn every_variant_round_trips_and_aliases_read() {
        for shade in Shade::ALL {
            assert_eq!(shade.as_str().parse::<Shade>(), Ok(*shade));
            assert_eq!(shade.to_string(), shade.as_str());
        }
        assert_eq!(Shade::parse("pale"), Ok(Shade::Light));
        assert_eq!(Shade::Light.as_str(), "light");
    }

    #[test]
    fn an_unknown_word_names_what_is_accepted() {
        let error = Shade::parse("grey").unwrap_err();
        assert_eq!(
            error,
            ValidationError::UnknownValue {
                what: "shade",
                input: "grey".into(),
                expected: &["light", "dark"],
            }
        );
        assert_eq!(
            error.to_string(),
            "invalid shade \"grey\": expected light or dark"
        );
    }
}
