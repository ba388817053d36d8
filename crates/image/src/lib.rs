//! berth-image: content store, layer unpacking, image archives.
