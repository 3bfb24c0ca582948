//! What switching a knob on a running server does to what lives already,
//! beyond its new value, which the next request or the next wait reads.
//! Each knob names its effect in its row of `knobs!`, and one function
//! carries a switch out (`serve/switches.rs`, `apply`): no knob's effect
//! is written anywhere else.

/// What a switch of one knob does at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OnSwitch {
    /// Nothing: the next request, or the next wait for one, reads the new
    /// value.
    Nothing,
    /// A knob of the client's: with `CLIENT_LIFETIME=process`, the one
    /// shared client is built anew with the knobs now (or dropped, for a
    /// lifetime that shares none), since Go's transport reads its fields
    /// on every request. The old client goes when the last request using
    /// it ends, and its idle connection closes with it; Go's transport
    /// would keep that connection in its pool until it times out.
    RenewSharedClient,
    /// `SERVER_KEEP_ALIVES` switched off: the connections waiting for a
    /// next request close at once, as Go's `SetKeepAlivesEnabled(false)`
    /// closes its idle ones.
    CloseWaitingIfOff,
}
