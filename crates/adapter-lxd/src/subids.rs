//! On LXD without idmapped mounts, a checkout keeps its owner through `raw.idmap`, which
//! the daemon accepts only for ids that root may map (`/etc/subuid`, `/etc/subgid`).
//! An id outside them makes the start fail deep inside LXC after retries, with no word
//! about why; checked here first, on a local daemon, it is refused at once with its fix.

/// Whether the subordinate-id file `text` (`user:start:count` lines) gives `root` a
/// range holding `id`.
pub(crate) fn root_may_map(text: &str, id: u32) -> bool {
    text.lines().any(|line| {
        let mut fields = line.trim().split(':');
        let (Some("root"), Some(start), Some(count)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return false;
        };
        match (start.parse::<u64>(), count.parse::<u64>()) {
            (Ok(start), Ok(count)) => (start..start.saturating_add(count)).contains(&u64::from(id)),
            _ => false,
        }
    })
}

/// The first of `uid` (in `/etc/subuid`) and `gid` (in `/etc/subgid`) that root may not
/// map, as (`"uid"` or `"gid"`, the id, the file); `None` when both may be mapped, or
/// when a file cannot be read (then the daemon has the last word).
pub(crate) fn unmappable(uid: u32, gid: u32) -> Option<(&'static str, u32, &'static str)> {
    [("uid", uid, "/etc/subuid"), ("gid", gid, "/etc/subgid")]
        .into_iter()
        .find(|(_, id, file)| {
            std::fs::read_to_string(file).is_ok_and(|text| !root_may_map(&text, *id))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_ranges_are_read_line_by_line() {
        let text = "lxd:100000:65536\nroot:1000000:1000000000\nroot:1000:1\n";
        assert!(root_may_map(text, 1000));
        assert!(root_may_map(text, 1_000_000));
        assert!(root_may_map(text, 1_000_999_999));
        assert!(!root_may_map(text, 1_001_000_000));
        assert!(!root_may_map(text, 1001));
        assert!(!root_may_map(text, 100_000), "lxd's range is not root's");
        assert!(!root_may_map("root:x:1\nbroken\n", 0));
        assert!(!root_may_map("", 1000));
    }
}
