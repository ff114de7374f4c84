//! Reading settings from the environment: pure, through a lookup function, so every area's
//! settings (`from_env`) are tested with a map and read from the process in `main` alone.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use crate::spelling::Spelling;

/// What is wrong with the environment.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable does not parse.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// A variable's value by its name.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

/// The variables a process was started with, or any other source of them.
pub struct Env<'a> {
    lookup: Lookup<'a>,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: never printed.
        f.write_str("Env(..)")
    }
}

impl Env<'static> {
    /// The process environment.
    pub fn process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Exactly these pairs (tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::from_lookup(move |name| map.get(name).cloned())
    }
}

impl<'a> Env<'a> {
    /// Variables from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// `self`, with `defaults` answering for what it leaves unset or blank.
    pub fn with_defaults(
        self,
        defaults: impl Fn(&str) -> Option<String> + Send + Sync + 'a,
    ) -> Self {
        Self::from_lookup(move |name| self.get(name).or_else(|| defaults(name)))
    }

    /// The value of `name`, when set and not blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// The value of `name`, which must be set.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A number, or `default` when unset.
    pub fn number<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                }),
        }
    }

    /// A duration given in milliseconds, or `default` when unset.
    pub fn millis(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        let millis = self.number(name, default.as_millis() as u64)?;
        Ok(Duration::from_millis(millis))
    }

    /// `true`/`1` or `false`/`0`, or `default` when unset.
    pub fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(invalid(
                name,
                format!("{other:?} is neither true nor false"),
            )),
        }
    }

    /// One of an enum's spellings, or `default` when unset.
    pub fn spelled<T: Spelling>(&self, name: &'static str, default: T) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => T::parse(text.trim())
                .ok_or_else(|| invalid(name, format!("{text:?} is not accepted"))),
        }
    }
}

/// A [`ConfigError::Invalid`] for `name`.
pub fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_defaults_fill_in() {
        let env = Env::from_pairs(&[("A", "  "), ("B", "7")])
            .with_defaults(|name| (name == "A").then(|| "from default".to_owned()));
        assert_eq!(env.get("A").as_deref(), Some("from default"));
        assert_eq!(env.number("B", 1u32).unwrap(), 7);
        assert_eq!(env.number("C", 1u32).unwrap(), 1);
        assert!(matches!(env.required("C"), Err(ConfigError::Missing("C"))));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let env = Env::from_pairs(&[("N", "many"), ("F", "yes")]);
        assert!(
            env.number("N", 1u32)
                .unwrap_err()
                .to_string()
                .starts_with("N is invalid")
        );
        assert!(
            env.flag("F", true)
                .unwrap_err()
                .to_string()
                .starts_with("F is invalid")
        );
        assert_eq!(
            env.millis("M", Duration::from_secs(2)).unwrap(),
            Duration::from_secs(2)
        );
    }
}
