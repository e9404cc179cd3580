//! `tripgate._native`: the PyO3 binding of `tripgate-core`. The package
//! `tripgate` (in `python/`) builds its public API on these classes.

mod breaker;
mod clock;
mod errors;
mod events;
mod guarded;
mod options;
mod permit;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<breaker::Breaker>()?;
    m.add_class::<guarded::Guarded>()?;
    m.add_class::<permit::PermitHandle>()?;
    m.add_class::<events::StateChange>()?;
    m.add_class::<events::CallEvent>()?;
    m.add_function(wrap_pyfunction!(errors::_register_error_types, m)?)?;
    m.add_function(wrap_pyfunction!(breaker::_restore_next, m)?)?;
    let states: Vec<&str> = tripgate_core::State::ALL.iter().map(|s| s.name()).collect();
    let reasons: Vec<&str> = tripgate_core::Reason::ALL
        .iter()
        .map(|r| r.name())
        .collect();
    m.add("STATES", states)?;
    m.add("REASONS", reasons)?;
    m.add("EVENTS", events::EVENTS.to_vec())?;
    m.add("OPTION_NAMES", tripgate_core::config::OPTION_NAMES.to_vec())?;
    // Each option's kind, in the slots of OPTION_NAMES: "count", "number",
    // "duration", "seed" or "group".
    let kinds: Vec<&str> = tripgate_core::binding::OPTION_KINDS
        .iter()
        .map(|kind| match kind {
            tripgate_core::binding::OptionKind::Count => "count",
            tripgate_core::binding::OptionKind::Number => "number",
            tripgate_core::binding::OptionKind::Duration => "duration",
            tripgate_core::binding::OptionKind::Seed => "seed",
            tripgate_core::binding::OptionKind::Group => "group",
        })
        .collect();
    m.add("OPTION_KINDS", kinds)?;
    m.add(
        "STATS_FIELDS",
        tripgate_core::binding::STATS_FIELDS.to_vec(),
    )?;
    m.add("ERROR_CODES", tripgate_core::binding::ERROR_CODES.to_vec())?;
    let messages = pyo3::types::PyDict::new(m.py());
    for (key, template) in tripgate_core::binding::MESSAGES {
        messages.set_item(key, template)?;
    }
    m.add("MESSAGES", messages)?;
    // The MESSAGES key of a rejection without a Retry-After, by state.
    let rejection_messages = pyo3::types::PyDict::new(m.py());
    for state in tripgate_core::State::ALL {
        let key = tripgate_core::binding::rejection_message(state, false);
        rejection_messages.set_item(state.name(), key)?;
    }
    m.add("REJECTION_MESSAGES", rejection_messages)?;
    m.add(
        "CALL_OUTCOMES",
        tripgate_core::binding::CALL_OUTCOMES.to_vec(),
    )?;
    m.add("METRICS", tripgate_core::binding::METRICS.to_vec())?;
    m.add("SNAPSHOT_VERSION", tripgate_core::SNAPSHOT_VERSION)?;
    m.add("CORE_VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
