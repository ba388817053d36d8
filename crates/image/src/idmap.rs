//! User namespace remapping (dockerd's `--userns-remap`): the uid and gid
//! ranges that shift a layer's file owners into the host's subordinate ids,
//! so that the container's root owns the image's files without being the
//! host's root.

use serde::{Deserialize, Serialize};

use crate::error::ImageError;

/// One contiguous range of a user namespace mapping: container ids
/// `container..container+size` are host ids `host..host+size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl IdRange {
    /// The host id of container id `id`, if this range holds it.
    fn to_host(self, id: u64) -> Option<u32> {
        let offset = id.checked_sub(u64::from(self.container))?;
        if offset >= u64::from(self.size) {
            return None;
        }
        u32::try_from(u64::from(self.host) + offset).ok()
    }

    /// The container id of host id `id`, if this range holds it.
    fn to_container(self, id: u32) -> Option<u32> {
        let offset = id.checked_sub(self.host)?;
        if offset >= self.size {
            return None;
        }
        self.container.checked_add(offset)
    }
}

/// The uid and gid mappings of a remapped daemon (several ranges allowed,
/// as `/etc/subuid` may list several). An empty list maps every id to
/// itself, as Docker's empty mapping does; a non-empty one maps only the
/// ids its ranges hold (the first range holding an id decides).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMaps {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl IdMaps {
    /// Whether these maps change nothing: no uid and no gid ranges, the
    /// store of a daemon without `--userns-remap`.
    pub fn is_identity(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty()
    }

    /// The host uid of container uid `id`; `None` if no range holds it.
    pub fn to_host_uid(&self, id: u32) -> Option<u32> {
        to_host(&self.uids, u64::from(id))
    }

    /// The host gid of container gid `id`; `None` if no range holds it.
    pub fn to_host_gid(&self, id: u32) -> Option<u32> {
        to_host(&self.gids, u64::from(id))
    }

    /// The host owner of a file the container sees owned by `uid`:`gid`
    /// (ids as a tar header carries them), or Docker's error for the first
    /// id that cannot be mapped.
    pub(crate) fn to_host_owner(&self, uid: u64, gid: u64) -> Result<(u32, u32), ImageError> {
        let host = |ranges: &[IdRange], id: u64| {
            to_host(ranges, id).ok_or_else(|| {
                ImageError::invalid(format!("Container ID {id} cannot be mapped to a host ID"))
            })
        };
        Ok((host(&self.uids, uid)?, host(&self.gids, gid)?))
    }

    /// The container uid of host uid `id`; `None` if no range holds it.
    pub fn to_container_uid(&self, id: u32) -> Option<u32> {
        to_container(&self.uids, id)
    }

    /// The container gid of host gid `id`; `None` if no range holds it.
    pub fn to_container_gid(&self, id: u32) -> Option<u32> {
        to_container(&self.gids, id)
    }

    /// The owner the container sees of a file the host sees owned by
    /// `uid`:`gid` (what goes into a tar header written from a remapped
    /// container), or Docker's error for the first id that cannot be mapped.
    pub(crate) fn to_container_owner(&self, uid: u32, gid: u32) -> Result<(u32, u32), ImageError> {
        let container = |ranges: &[IdRange], id: u32| {
            to_container(ranges, id).ok_or_else(|| {
                ImageError::invalid(format!("Host ID {id} cannot be mapped to a container ID"))
            })
        };
        Ok((container(&self.uids, uid)?, container(&self.gids, gid)?))
    }
}

/// The host id of container id `id` under `ranges` (itself if there are none).
fn to_host(ranges: &[IdRange], id: u64) -> Option<u32> {
    if ranges.is_empty() {
        return u32::try_from(id).ok();
    }
    ranges.iter().find_map(|range| range.to_host(id))
}

/// The container id of host id `id` under `ranges` (itself if there are none).
fn to_container(ranges: &[IdRange], id: u32) -> Option<u32> {
    if ranges.is_empty() {
        return Some(id);
    }
    ranges.iter().find_map(|range| range.to_container(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(container: u32, host: u32, size: u32) -> IdRange {
        IdRange {
            container,
            host,
            size,
        }
    }

    #[test]
    fn ids_shift_within_their_range_and_fail_outside_every_range() {
        let maps = IdMaps {
            uids: vec![range(0, 100_000, 1000), range(1000, 300_000, 10)],
            gids: vec![range(0, 200_000, 65_536)],
        };
        assert!(!maps.is_identity());
        assert_eq!(maps.to_host_uid(0), Some(100_000));
        assert_eq!(maps.to_host_uid(999), Some(100_999));
        assert_eq!(maps.to_host_uid(1000), Some(300_000));
        assert_eq!(maps.to_host_uid(1009), Some(300_009));
        assert_eq!(maps.to_host_uid(1010), None);
        assert_eq!(maps.to_host_gid(65_535), Some(265_535));
        assert_eq!(maps.to_host_gid(65_536), None);
        assert_eq!(maps.to_host_owner(5, 5).unwrap(), (100_005, 200_005));
        let err = maps.to_host_owner(5, 70_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Container ID 70000 cannot be mapped to a host ID"
        );
        let err = maps.to_host_owner(1 << 40, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Container ID 1099511627776 cannot be mapped to a host ID"
        );
    }

    #[test]
    fn ranges_reaching_past_the_last_host_id_stop_there() {
        let maps = IdMaps {
            uids: vec![range(0, u32::MAX - 1, 10)],
            gids: vec![range(u32::MAX, 0, 10)],
        };
        assert_eq!(maps.to_host_uid(1), Some(u32::MAX));
        assert_eq!(maps.to_host_uid(2), None);
        assert_eq!(maps.to_host_gid(u32::MAX), Some(0));
    }

    #[test]
    fn host_ids_shift_back_to_the_container_ids_they_came_from() {
        let maps = IdMaps {
            uids: vec![range(0, 100_000, 1000), range(1000, 300_000, 10)],
            gids: vec![range(0, 200_000, 65_536)],
        };
        for id in [0, 1, 999, 1000, 1009] {
            let host = maps.to_host_uid(id).unwrap();
            assert_eq!(maps.to_container_uid(host), Some(id));
        }
        assert_eq!(maps.to_container_uid(100_000), Some(0));
        assert_eq!(maps.to_container_uid(300_009), Some(1009));
        assert_eq!(maps.to_container_uid(99_999), None);
        assert_eq!(maps.to_container_uid(300_010), None);
        assert_eq!(maps.to_container_gid(265_535), Some(65_535));
        assert_eq!(maps.to_container_owner(100_005, 200_005).unwrap(), (5, 5));
        let err = maps.to_container_owner(0, 200_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Host ID 0 cannot be mapped to a container ID"
        );
        let identity = IdMaps::default();
        assert_eq!(identity.to_container_owner(7, 8).unwrap(), (7, 8));
        let overflow = IdMaps {
            uids: vec![range(u32::MAX - 1, 0, 10)],
            gids: Vec::new(),
        };
        assert_eq!(overflow.to_container_uid(1), Some(u32::MAX));
        assert_eq!(overflow.to_container_uid(2), None);
    }

    #[test]
    fn empty_maps_are_the_identity() {
        let maps = IdMaps::default();
        assert!(maps.is_identity());
        assert_eq!(maps.to_host_uid(70_000), Some(70_000));
        assert_eq!(maps.to_host_gid(0), Some(0));
        assert_eq!(maps.to_host_owner(1000, 1001).unwrap(), (1000, 1001));
        assert!(maps.to_host_owner(1 << 40, 0).is_err());
    }
}
