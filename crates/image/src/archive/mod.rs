//! Image archives: `docker load` of docker-archive and OCI layout tarballs,
//! and `docker save` (which writes both formats in one tarball, like
//! Docker 25+).

mod load;
mod oci;
mod save;
mod spool;

pub use load::LoadedImage;
