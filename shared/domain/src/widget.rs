//! A project's public face (API.md §7): its name and the chat widget's settings, with the
//! defaults a project that set none gets. Nothing secret belongs here: it is read on every
//! page view without authentication.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The widget's brand colour when the project set none.
pub const DEFAULT_BRAND_COLOR: &str = "#2563eb";
/// The first message when the project set none.
pub const DEFAULT_WELCOME_MESSAGE: &str = "Hi! How can I help you today?";
/// The input's placeholder when the project set none.
pub const DEFAULT_INPUT_PLACEHOLDER: &str = "Ask a question…";
/// The base font size (px) when the project set none.
pub const DEFAULT_BASE_FONT_SIZE: u32 = 14;
/// The name of a project that was given none.
pub const DEFAULT_PROJECT_NAME: &str = "Untitled project";

/// A suggested first question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickPrompt {
    /// Its id.
    pub id: Uuid,
    /// The button's text.
    pub title: String,
    /// What is sent when it is clicked.
    pub prompt: String,
}

/// The widget's settings as the API writes them: every key always present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WidgetConfig {
    /// The assistant's name in the widget.
    pub display_name: Option<String>,
    /// The assistant's avatar URL.
    pub assistant_avatar: Option<String>,
    /// `#rrggbb`.
    pub brand_color: String,
    /// `#rrggbb` in dark mode.
    pub brand_color_dark: Option<String>,
    /// `#rrggbb`.
    pub user_message_bubble_color: String,
    /// `#rrggbb` in dark mode.
    pub user_message_bubble_color_dark: Option<String>,
    /// Pixels.
    pub base_font_size: u32,
    /// CSS the widget adds to its own.
    #[serde(rename = "customCSSStyles")]
    pub custom_css_styles: String,
    /// The first message of a conversation.
    pub welcome_message: String,
    /// The input's placeholder.
    pub input_placeholder: String,
    /// Suggested first questions.
    pub quick_prompts: Vec<QuickPrompt>,
}

impl Default for WidgetConfig {
    fn default() -> Self {
        Self {
            display_name: None,
            assistant_avatar: None,
            brand_color: DEFAULT_BRAND_COLOR.to_owned(),
            brand_color_dark: None,
            user_message_bubble_color: DEFAULT_BRAND_COLOR.to_owned(),
            user_message_bubble_color_dark: None,
            base_font_size: DEFAULT_BASE_FONT_SIZE,
            custom_css_styles: String::new(),
            welcome_message: DEFAULT_WELCOME_MESSAGE.to_owned(),
            input_placeholder: DEFAULT_INPUT_PLACEHOLDER.to_owned(),
            quick_prompts: Vec::new(),
        }
    }
}

impl WidgetConfig {
    /// What is wrong with it, if anything: colours must be `#rrggbb`, the font size sane,
    /// texts bounded (the document is read on every page view).
    pub fn check(&self) -> Result<(), String> {
        let colour = |name: &str, value: &str| {
            let ok = value.len() == 7
                && value.starts_with('#')
                && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be a colour such as #2563eb, not {value:?}"
                ))
            }
        };
        colour("brandColor", &self.brand_color)?;
        colour("userMessageBubbleColor", &self.user_message_bubble_color)?;
        for (name, value) in [
            ("brandColorDark", &self.brand_color_dark),
            (
                "userMessageBubbleColorDark",
                &self.user_message_bubble_color_dark,
            ),
        ] {
            if let Some(value) = value {
                colour(name, value)?;
            }
        }
        if !(8..=32).contains(&self.base_font_size) {
            return Err("baseFontSize must be between 8 and 32".into());
        }
        if self.custom_css_styles.chars().count() > 20_000 {
            return Err("customCSSStyles is longer than 20,000 characters".into());
        }
        if self.quick_prompts.len() > 10 {
            return Err("at most 10 quickPrompts".into());
        }
        let texts = [&self.welcome_message, &self.input_placeholder];
        if texts.iter().any(|t| t.chars().count() > 1_000) {
            return Err("welcomeMessage and inputPlaceholder are at most 1,000 characters".into());
        }
        Ok(())
    }
}

/// `GET /v2/projects/current`'s answer: the project's public settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicProject {
    /// Always `"project"`.
    pub object: &'static str,
    /// The project's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The widget's settings.
    pub chat_widget_config: WidgetConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_that_set_nothing_gets_every_key_with_the_contract_defaults() {
        let project = PublicProject {
            object: "project",
            id: Uuid::nil(),
            name: DEFAULT_PROJECT_NAME.into(),
            chat_widget_config: WidgetConfig::default(),
        };
        assert_eq!(
            serde_json::to_value(&project).unwrap(),
            serde_json::json!({
                "object": "project", "id": Uuid::nil(), "name": "Untitled project",
                "chatWidgetConfig": {
                    "displayName": null, "assistantAvatar": null,
                    "brandColor": "#2563eb", "brandColorDark": null,
                    "userMessageBubbleColor": "#2563eb", "userMessageBubbleColorDark": null,
                    "baseFontSize": 14, "customCSSStyles": "",
                    "welcomeMessage": "Hi! How can I help you today?",
                    "inputPlaceholder": "Ask a question…",
                    "quickPrompts": []
                }
            })
        );
    }

    #[test]
    fn a_partial_document_keeps_the_defaults_for_what_it_leaves_out() {
        let config: WidgetConfig =
            serde_json::from_str(r##"{"brandColor": "#ff0000", "displayName": "Ada"}"##).unwrap();
        assert_eq!(config.brand_color, "#ff0000");
        assert_eq!(config.display_name.as_deref(), Some("Ada"));
        assert_eq!(config.welcome_message, DEFAULT_WELCOME_MESSAGE);
        assert!(config.check().is_ok());
        let bad: WidgetConfig = serde_json::from_str(r#"{"brandColor": "blue"}"#).unwrap();
        assert!(bad.check().unwrap_err().contains("brandColor"));
    }
}
