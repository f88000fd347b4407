//! Where a call's audio comes from and goes to. A transport feeds a call's
//! `CallIo::customer_audio` with real-time paced frames and drains
//! `CallIo::agent_audio` to the customer. This issue ships the simulated caller;
//! the local sound card and LiveKit rooms implement the same ends.

pub mod desk;
pub mod local_device;
pub mod monitor;
pub mod simulated;

pub use desk::{AudioDesk, DeskError, DeskStatus, LocalCall};
pub use local_device::{
    list_devices, DeviceError, DeviceList, EchoGuardConfig, LocalDevices, LocalOptions, Microphone,
    StatsSnapshot, StreamInfo,
};
pub use monitor::CallMonitor;
pub use simulated::{run_scenario, SimError, SimOptions, SimReport, SttMode};
