//! What the kernel's `tcp_info` says of one connection's traffic: data
//! segments each way, and how long ago data last went each way.
//!
//! The kernel's `struct tcp_info` (linux/tcp.h) only ever grows at its
//! end, and a dump hands each connection's copy at the length the running
//! kernel knows. `netlink-packet-sock-diag`'s parsed `TcpInfo` refuses a
//! copy shorter than its own struct, which failed the whole dump on older
//! kernels; so the four fields the rule reads are taken here by their
//! offsets, each only where the copy is long enough to hold it. A field the
//! kernel does not have reads 0: the data segment counts came with Linux
//! 4.6, and without them no connection counts as answered, so no row can
//! read `leaks` (see `verdict.rs`).

use std::time::Duration;

/// Offsets in `struct tcp_info`, in bytes.
const LAST_DATA_SENT: usize = 44;
const LAST_DATA_RECEIVED: usize = 52;
const DATA_SEGMENTS_IN: usize = 152;
const DATA_SEGMENTS_OUT: usize = 156;

/// A connection's traffic, as `tcp_info` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Traffic {
    pub(crate) data_segments_out: u32,
    pub(crate) data_segments_in: u32,
    pub(crate) since_data_sent: Duration,
    pub(crate) since_data_received: Duration,
}

impl Traffic {
    /// Reads the kernel's copy of `tcp_info`, however long.
    pub(crate) fn parse(tcp_info: &[u8]) -> Traffic {
        let field = |at: usize| {
            tcp_info.get(at..at + 4).map_or(0, |bytes| {
                u32::from_ne_bytes(bytes.try_into().expect("four bytes"))
            })
        };
        let millis = |at: usize| Duration::from_millis(u64::from(field(at)));
        Traffic {
            data_segments_out: field(DATA_SEGMENTS_OUT),
            data_segments_in: field(DATA_SEGMENTS_IN),
            since_data_sent: millis(LAST_DATA_SENT),
            since_data_received: millis(LAST_DATA_RECEIVED),
        }
    }

    /// How long no data has gone either way.
    pub(crate) fn quiet(&self) -> Duration {
        self.since_data_sent.min(self.since_data_received)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(fields: &[(usize, u32)], length: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; length];
        for (at, value) in fields {
            bytes[*at..*at + 4].copy_from_slice(&value.to_ne_bytes());
        }
        bytes
    }

    #[test]
    fn each_field_is_read_at_its_offset() {
        let fields = [
            (LAST_DATA_SENT, 7000),
            (LAST_DATA_RECEIVED, 6000),
            (DATA_SEGMENTS_IN, 3),
            (DATA_SEGMENTS_OUT, 1),
        ];
        let traffic = Traffic::parse(&with(&fields, 232));
        assert_eq!(
            (traffic.data_segments_out, traffic.data_segments_in),
            (1, 3)
        );
        assert_eq!(traffic.quiet(), Duration::from_secs(6));
    }

    #[test]
    fn a_shorter_copy_reads_what_it_holds_and_zero_beyond() {
        let fields = [(LAST_DATA_SENT, 7000), (LAST_DATA_RECEIVED, 6000)];
        let old_kernel = Traffic::parse(&with(&fields, 104));
        assert_eq!(old_kernel.since_data_sent, Duration::from_secs(7));
        assert_eq!(old_kernel.data_segments_in, 0);
        assert_eq!(Traffic::parse(&[]), Traffic::default());
    }
}
