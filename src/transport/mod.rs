//! Where a call's audio comes from and goes to. A transport feeds a call's
//! `CallIo::customer_audio` with real-time paced frames and drains
//! `CallIo::agent_audio` to the customer. This issue ships the simulated caller;
//! the local sound card and LiveKit rooms implement the same ends.

pub mod local_device;
pub mod simulated;

pub use local_device::{
    list_devices, DeviceError, DeviceList, LocalDevices, StatsSnapshot, StreamInfo,
};
pub use simulated::{run_scenario, SimError, SimOptions, SimReport, SttMode};
