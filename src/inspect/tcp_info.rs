//! What the kernel's `tcp_info` says of one connection's traffic: data
//! segments and bytes each way, the segment sizes, and how long ago data
//! last went each way.
//!
//! The kernel's `struct tcp_info` (linux/tcp.h) only ever grows at its
//! end, and a dump hands each connection's copy at the length the running
//! kernel knows. `netlink-packet-sock-diag`'s parsed `TcpInfo` refuses a
//! copy shorter than its own struct, which failed the whole dump on older
//! kernels; so the four fields the rule reads are taken here by their
//! offsets, each only where the copy is long enough to hold it. A field the
//! kernel does not have reads 0: the byte counts came with Linux 4.1 and
//! the data segment counts with 4.6; without the segments no connection
//! counts as answered, so no row can read `leaks` (see `verdict.rs`), and
//! without the bytes every segment counts as a write of its own, as before.

use std::time::Duration;

/// Offsets in `struct tcp_info`, in bytes.
const SEND_MSS: usize = 16;
const LAST_DATA_SENT: usize = 44;
const LAST_DATA_RECEIVED: usize = 52;
const ADVERTISED_MSS: usize = 84;
const TOTAL_RETRANSMITTED: usize = 100;
const BYTES_ACKED: usize = 120;
const BYTES_RECEIVED: usize = 128;
const DATA_SEGMENTS_IN: usize = 152;
const DATA_SEGMENTS_OUT: usize = 156;

/// A connection's traffic, as `tcp_info` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Traffic {
    pub(crate) data_segments_out: u32,
    pub(crate) data_segments_in: u32,
    /// Data segments sent again after a loss, counted in the above too.
    pub(crate) retransmitted: u32,
    pub(crate) bytes_acked: u64,
    pub(crate) bytes_received: u64,
    /// The most a segment sent carries now.
    pub(crate) send_mss: u32,
    /// The most this end told the other a segment may carry: no segment
    /// received is larger. (The kernel's own guess at the other end's,
    /// `rcv_mss`, is the largest segment seen so far, so a run of
    /// 600-byte requests would read as full segments.)
    pub(crate) advertised_mss: u32,
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
        let wide = |at: usize| {
            tcp_info.get(at..at + 8).map_or(0, |bytes| {
                u64::from_ne_bytes(bytes.try_into().expect("eight bytes"))
            })
        };
        let millis = |at: usize| Duration::from_millis(u64::from(field(at)));
        Traffic {
            data_segments_out: field(DATA_SEGMENTS_OUT),
            data_segments_in: field(DATA_SEGMENTS_IN),
            retransmitted: field(TOTAL_RETRANSMITTED),
            bytes_acked: wide(BYTES_ACKED),
            bytes_received: wide(BYTES_RECEIVED),
            send_mss: field(SEND_MSS),
            advertised_mss: field(ADVERTISED_MSS),
            since_data_sent: millis(LAST_DATA_SENT),
            since_data_received: millis(LAST_DATA_RECEIVED),
        }
    }

    /// How long no data has gone either way.
    pub(crate) fn quiet(&self) -> Duration {
        self.since_data_sent.min(self.since_data_received)
    }

    /// The writes that made the data segments sent, near enough; a loss's
    /// segments sent again set aside.
    pub(crate) fn writes_sent(&self) -> u32 {
        let sent = self.data_segments_out.saturating_sub(self.retransmitted);
        writes(sent, self.bytes_acked, self.send_mss)
    }

    /// The same of the data segments received.
    pub(crate) fn writes_received(&self) -> u32 {
        writes(
            self.data_segments_in,
            self.bytes_received,
            self.advertised_mss,
        )
    }
}

/// How many writes made `segments` carrying `bytes`, near enough, with
/// segments of at most `mss` bytes. A write ends in a segment not filled
/// to the size, unless the next write joins it in the send queue. So when
/// nearly all segments are full ([`FULL_ENOUGH`]), the writes were large
/// and the part-filled segments count them: an upload of 64 KB in one
/// write over a 1500-byte MTU is 45 full segments and 2 others, of 1 MB
/// 724 and 2. Otherwise each segment may be a write of its own: 18
/// requests of 1 KB are 18 segments, which their bytes could have filled
/// 12 of.
fn writes(segments: u32, bytes: u64, mss: u32) -> u32 {
    let full = match mss {
        0 => 0,
        mss => u32::try_from(bytes / u64::from(mss)).unwrap_or(u32::MAX),
    };
    let (numerator, denominator) = FULL_ENOUGH;
    match u64::from(full) * denominator >= u64::from(segments) * numerator {
        true => segments.saturating_sub(full),
        false => segments,
    }
}

/// Nine segments in ten filled is nearly all: a write's last segment is
/// part-filled, so writes of ten segments or more (13 KB over a 1500-byte
/// MTU) fill at least nine in ten, and small requests fill few; requests
/// each a little short of a segment size also pass, and read as fewer
/// writes than they were (see `docs/operators.md`).
const FULL_ENOUGH: (u64, u64) = (9, 10);

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
    fn an_upload_in_one_write_is_few_writes_and_many_requests_are_many() {
        // Measured over a 1500-byte MTU: a POST of 64 KB from Python's
        // http.client, on the client's end and on the server's.
        let mut upload = with(
            &[
                (SEND_MSS, 1448),
                (ADVERTISED_MSS, 1448),
                (DATA_SEGMENTS_OUT, 47),
                (DATA_SEGMENTS_IN, 47),
            ],
            232,
        );
        upload[BYTES_ACKED..BYTES_ACKED + 8].copy_from_slice(&65_636u64.to_ne_bytes());
        upload[BYTES_RECEIVED..BYTES_RECEIVED + 8].copy_from_slice(&65_635u64.to_ne_bytes());
        let upload = Traffic::parse(&upload);
        assert_eq!(upload.writes_sent(), 2);
        assert_eq!(upload.writes_received(), 2);
        let resent = Traffic {
            data_segments_out: 54,
            retransmitted: 7,
            ..upload
        };
        assert_eq!(resent.writes_sent(), 2, "losses are not writes");
        // 18 requests of 1 KB each: none fills a segment.
        let requests = Traffic {
            data_segments_out: 18,
            data_segments_in: 18,
            bytes_acked: 18_000,
            bytes_received: 18_000,
            ..upload
        };
        assert_eq!(requests.writes_sent(), 18);
        assert_eq!(requests.writes_received(), 18);
        let unknown_size = Traffic {
            send_mss: 0,
            advertised_mss: 0,
            ..upload
        };
        assert_eq!(unknown_size.writes_sent(), 47);
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
