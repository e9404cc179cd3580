//! What the Rust test runners share: the scenario config format (snake_case
//! keys, milliseconds) into a core `Config`, the way a binding converts its
//! options; and the check of a file generated from the core.

// Each test binary uses part of this module.
#![allow(dead_code)]

use std::path::Path;

use serde_json::{Map, Value};
use tripgate_core::binding::{OptionKind, OptionSlots, ShapeError, OPTION_GROUPS, OPTION_KINDS};
use tripgate_core::config::OPTION_NAMES;
use tripgate_core::{Config, ConfigError, OptionValue};

/// A config error as the runner sees it: which option, and whether the
/// value had the wrong type or was out of range.
#[derive(Debug)]
pub struct OptionError {
    pub option: String,
    pub kind: &'static str,
    pub value: Option<OptionValue>,
}

impl From<ConfigError> for OptionError {
    fn from(e: ConfigError) -> Self {
        OptionError {
            option: e.option().to_string(),
            kind: "range",
            value: Some(e.value),
        }
    }
}

fn type_error(option: &str) -> OptionError {
    OptionError {
        option: option.to_string(),
        kind: "type",
        value: None,
    }
}

/// The scenario config (snake_case keys, milliseconds) as a core [`Config`],
/// the way a binding converts its options: types and shape checked here
/// against the kit's lists (`OPTION_NAMES`, `OPTION_KINDS`, `OPTION_GROUPS`),
/// every number judged by the kit's `OptionSlots`.
pub fn parse_config(value: &Value) -> Result<Config, OptionError> {
    let empty = Map::new();
    let options = value.as_object().unwrap_or(&empty);
    let mut values = [f64::NAN; OPTION_NAMES.len()];
    let mut mask = 0u32;
    for (slot, (name, kind)) in OPTION_NAMES.iter().zip(OPTION_KINDS).enumerate() {
        let (container, key) = match name.split_once('.') {
            None => (Some(options), *name),
            Some((group, member)) => (options.get(group).and_then(Value::as_object), member),
        };
        let Some(given) = container.and_then(|c| c.get(key)).filter(|v| !v.is_null()) else {
            continue;
        };
        match (kind, given) {
            (OptionKind::Group, Value::Object(members)) => check_shape(name, members)?,
            (OptionKind::Group, _) => return Err(type_error(name)),
            (_, Value::Number(n)) => {
                values[slot] = n.as_f64().unwrap_or(f64::NAN);
                mask |= 1 << slot;
            }
            _ => return Err(type_error(name)),
        }
    }
    Ok(OptionSlots::<1_000_000> {
        values: &values,
        mask,
    }
    .config()?)
}

/// A group's members against its shape in `OPTION_GROUPS`: a missing
/// required member is a type error naming it; other than exactly one of an
/// exclusive set, a type error of the group itself.
fn check_shape(group: &str, members: &Map<String, Value>) -> Result<(), OptionError> {
    let Some(shape) = OPTION_GROUPS.iter().find(|g| g.name == group) else {
        return Ok(());
    };
    match shape.check(|key| members.get(key).is_some_and(|v| !v.is_null())) {
        Ok(()) => Ok(()),
        Err(ShapeError::Missing(missing)) => Err(type_error(&format!("{group}.{missing}"))),
        Err(ShapeError::NotExactlyOne) => Err(type_error(group)),
    }
}

/// Fails unless the file at `relative` (to the core crate) holds `expected`;
/// with `TRIPGATE_BLESS` set, writes it first.
pub fn check_generated(relative: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("TRIPGATE_BLESS").is_some() {
        std::fs::write(&path, expected).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == expected,
        "{} is stale; rerun with TRIPGATE_BLESS=1 to rewrite it",
        path.display()
    );
}
