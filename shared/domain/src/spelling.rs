//! One spelling per enum value, derived once (`strum`): the text stored in DynamoDB, written
//! on the wire and accepted in configuration and on the command line.

use std::str::FromStr;

/// An enum whose values each have one text spelling. Derive `strum::IntoStaticStr` and
/// `strum::EnumString` (with `serialize_all`) and this comes with them.
pub trait Spelling: Copy + Into<&'static str> + FromStr {
    /// The spelling of this value.
    fn as_str(self) -> &'static str {
        self.into()
    }

    /// The value spelled `text`, if any.
    fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl<T: Copy + Into<&'static str> + FromStr> Spelling for T {}
