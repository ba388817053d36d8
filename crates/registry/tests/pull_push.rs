//! Push and pull against a real `docker-registry` on 127.0.0.1: images are
//! built in memory, pushed with the client, and pulled back.

mod common;

use berth_registry::media_type::*;
use berth_registry::{
    Client, ClientConfig, Compression, Descriptor, Digest, Error, Platform, PushedBlob, Reference,
};
use common::image::{self, Blob};
use common::registry::{Options, Registry};

fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}

#[tokio::test]
async fn pushed_image_pulls_back_by_tag_and_by_digest_with_equal_bytes() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("team/app:1.0").parse().unwrap();
    let plain = image::tar_of(&[("etc/os-release", b"ID=berth\n")]);
    let gz = image::tar_of(&[("bin/hello", b"#!/bin/sh\necho hi\n")]);
    let img = image::image(
        "linux/amd64",
        &[(Compression::Gzip, gz), (Compression::None, plain)],
        true,
    );

    let (outcomes, digest) = image::push(&client, &reference, &img, None).await;
    assert_eq!(outcomes, vec![PushedBlob::Uploaded; 3]);
    assert_eq!(digest, img.manifest.desc.digest);

    let by_tag = client.resolve(&reference, &amd64(), None).await.unwrap();
    assert_eq!(by_tag.digest, digest);
    assert_eq!(by_tag.manifest_digest, digest);
    assert_eq!(by_tag.manifest, img.manifest.bytes);
    assert_eq!(by_tag.media_type, OCI_MANIFEST);
    assert_eq!(by_tag.config, img.config.desc);
    assert_eq!(by_tag.layers.len(), 2);
    assert_eq!(by_tag.layers[1].compression(), Some(Compression::None));

    for (desc, want) in by_tag
        .layers
        .iter()
        .zip(&img.layers)
        .map(|(d, b)| (d, &b.bytes))
        .chain([(&by_tag.config, &img.config.bytes)])
    {
        let got = image::fetch(&client, &reference, desc, None).await.unwrap();
        assert_eq!(&got, want, "blob {}", desc.digest);
    }

    let pinned: Reference = format!("{}@{digest}", registry.reference("team/app"))
        .parse()
        .unwrap();
    let by_digest = client.resolve(&pinned, &amd64(), None).await.unwrap();
    assert_eq!(by_digest.manifest, img.manifest.bytes);
    assert_eq!(by_digest.digest, digest);
}

#[tokio::test]
async fn progress_counts_up_to_the_blob_size() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("app:p").parse().unwrap();
    let big: Vec<u8> = (0..600_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let blob = Blob::new(OCI_LAYER, big);
    client
        .upload_blob(&reference, &blob.desc, &blob.bytes[..], |_| {}, None)
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut sink = Vec::new();
    client
        .fetch_blob(&reference, &blob.desc, &mut sink, |n| seen.push(n), None)
        .await
        .unwrap();
    assert_eq!(sink, blob.bytes);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "progress only grows");
    assert_eq!(seen.last(), Some(&blob.desc.size));
}

#[tokio::test]
async fn oci_index_with_two_platforms_resolves_to_linux_amd64() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("multi:latest").parse().unwrap();
    let arm = image::simple_image("linux/arm64", "arm64");
    let amd = image::simple_image("linux/amd64", "amd64");
    image::push_by_digest(&client, &reference, &arm).await;
    image::push_by_digest(&client, &reference, &amd).await;
    let index = image::index(&[(&arm, "linux/arm64/v8"), (&amd, "linux/amd64")], true);
    let index_digest = client
        .put_manifest(&reference, OCI_INDEX, &index.bytes, None)
        .await
        .unwrap();

    let resolved = client.resolve(&reference, &amd64(), None).await.unwrap();
    assert_eq!(
        resolved.digest, index_digest,
        "the list's digest is the repo digest"
    );
    assert_eq!(resolved.manifest_digest, amd.manifest.desc.digest);
    assert_eq!(resolved.manifest, amd.manifest.bytes);
    assert_eq!(resolved.platform, Some(amd64()));
    let config = image::fetch(&client, &reference, &resolved.config, None)
        .await
        .unwrap();
    assert!(String::from_utf8(config).unwrap().contains("\"amd64\""));

    let arm64 = client
        .resolve(&reference, &"linux/arm64".parse().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(arm64.manifest_digest, arm.manifest.desc.digest);

    let err = client
        .resolve(&reference, &"linux/s390x".parse().unwrap(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
    assert_eq!(
        err.to_string(),
        "no matching manifest for linux/s390x in the manifest list entries"
    );
}

#[tokio::test]
async fn docker_manifest_list_picks_the_platform_too() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("dlist:1").parse().unwrap();
    let i386 = image::simple_image("linux/386", "386");
    let arm = image::simple_image("linux/arm/v7", "arm");
    image::push_by_digest(&client, &reference, &i386).await;
    image::push_by_digest(&client, &reference, &arm).await;
    let list = image::index(&[(&arm, "linux/arm/v7"), (&i386, "linux/386")], false);
    client
        .put_manifest(&reference, DOCKER_MANIFEST_LIST, &list.bytes, None)
        .await
        .unwrap();

    let resolved = client.resolve(&reference, &amd64(), None).await.unwrap();
    assert_eq!(
        resolved.manifest_digest, i386.manifest.desc.digest,
        "amd64 runs 386 when there is no amd64"
    );
    assert_eq!(resolved.media_type, DOCKER_MANIFEST);
}

#[tokio::test]
async fn zstd_layer_keeps_its_media_type_and_bytes() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("zstd:1").parse().unwrap();
    let tar = image::tar_of(&[("data.bin", &[7u8; 10_000])]);
    let img = image::image("linux/amd64", &[(Compression::Zstd, tar.clone())], true);
    image::push(&client, &reference, &img, None).await;

    let resolved = client.resolve(&reference, &amd64(), None).await.unwrap();
    let layer = &resolved.layers[0];
    assert_eq!(layer.media_type, OCI_LAYER_ZSTD);
    assert_eq!(layer.compression(), Some(Compression::Zstd));
    let blob = image::fetch(&client, &reference, layer, None)
        .await
        .unwrap();
    assert_eq!(zstd::decode_all(&blob[..]).unwrap(), tar);
}

#[tokio::test]
async fn existing_blob_is_not_uploaded_again() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("again:1").parse().unwrap();
    let img = image::simple_image("linux/amd64", "again");
    let (first, _) = image::push(&client, &reference, &img, None).await;
    assert_eq!(first, vec![PushedBlob::Uploaded; 2]);
    let (second, _) = image::push(&client, &reference, &img, None).await;
    assert_eq!(second, vec![PushedBlob::Exists; 2]);

    assert!(client
        .blob_exists(&reference, &img.config.desc.digest, None)
        .await
        .unwrap());
    assert!(!client
        .blob_exists(&reference, &Digest::sha256(b"never pushed"), None)
        .await
        .unwrap());
}

#[tokio::test]
async fn blob_is_mounted_across_repositories_and_a_refused_mount_uploads() {
    let registry = Registry::start();
    let client = common::client();
    let base: Reference = registry.reference("base:1").parse().unwrap();
    let derived: Reference = registry.reference("derived:1").parse().unwrap();
    let img = image::simple_image("linux/amd64", "shared");
    image::push(&client, &base, &img, None).await;

    let layer = &img.layers[0];
    assert!(!client
        .blob_exists(&derived, &layer.desc.digest, None)
        .await
        .unwrap());
    let outcome = client
        .push_blob(
            &derived,
            &layer.desc,
            &layer.bytes[..],
            |_| {},
            Some("base"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, PushedBlob::Mounted);
    assert!(client
        .blob_exists(&derived, &layer.desc.digest, None)
        .await
        .unwrap());

    let fresh = Blob::new(OCI_LAYER, b"only here".to_vec());
    assert!(!client
        .mount_blob(&derived, &fresh.desc.digest, "base", None)
        .await
        .unwrap());
    let outcome = client
        .push_blob(
            &derived,
            &fresh.desc,
            &fresh.bytes[..],
            |_| {},
            Some("base"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome, PushedBlob::Uploaded);
    assert_eq!(
        image::fetch(&client, &derived, &fresh.desc, None)
            .await
            .unwrap(),
        fresh.bytes
    );
}

#[tokio::test]
async fn missing_tag_is_not_found_in_dockers_words() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("nothing:here").parse().unwrap();
    let err = client
        .resolve(&reference, &amd64(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "manifest for {}/nothing:here not found: manifest unknown: manifest unknown",
            registry.host
        )
    );

    let missing = Descriptor::new(OCI_LAYER, Digest::sha256(b"absent"), 6);
    let err = image::fetch(&client, &reference, &missing, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn large_blob_goes_up_in_chunks_with_relative_locations() {
    let registry = Registry::start_with(Options {
        relative_urls: true,
        ..Options::default()
    });
    let client = Client::new(ClientConfig {
        chunk_size: 64 << 10,
        ..common::quick_config()
    })
    .unwrap();
    let reference: Reference = registry.reference("chunky:1").parse().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let blob = Blob::new(OCI_LAYER, data);

    let mut reported = 0;
    client
        .upload_blob(
            &reference,
            &blob.desc,
            &blob.bytes[..],
            |n| reported = n,
            None,
        )
        .await
        .unwrap();
    assert_eq!(reported, blob.desc.size);
    assert_eq!(
        image::fetch(&client, &reference, &blob.desc, None)
            .await
            .unwrap(),
        blob.bytes
    );

    let small = Blob::new(OCI_LAYER, b"monolithic".to_vec());
    client
        .upload_blob(&reference, &small.desc, &small.bytes[..], |_| {}, None)
        .await
        .unwrap();
    assert!(client
        .blob_exists(&reference, &small.desc.digest, None)
        .await
        .unwrap());
}

#[tokio::test]
async fn source_that_does_not_match_its_descriptor_is_not_stored() {
    let registry = Registry::start();
    for chunk_size in [1 << 20, 4] {
        let client = Client::new(ClientConfig {
            chunk_size,
            ..common::quick_config()
        })
        .unwrap();
        let reference: Reference = registry.reference("liar:1").parse().unwrap();
        let desc = Descriptor::new(OCI_LAYER, Digest::sha256(b"the truth"), 9);
        let err = client
            .upload_blob(&reference, &desc, &b"a lie!!!!"[..], |_| {}, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::DigestMismatch { .. }),
            "chunk {chunk_size}: {err:?}"
        );
        let err = client
            .upload_blob(&reference, &desc, &b"short"[..], |_| {}, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::SizeMismatch { received: 5, .. }),
            "chunk {chunk_size}: {err:?}"
        );
        assert!(!client
            .blob_exists(&reference, &desc.digest, None)
            .await
            .unwrap());
    }
}

#[tokio::test]
async fn manifest_naming_a_missing_blob_is_refused_with_the_registry_message() {
    let registry = Registry::start();
    let client = common::client();
    let reference: Reference = registry.reference("broken:1").parse().unwrap();
    let img = image::simple_image("linux/amd64", "x");
    let err = client
        .put_manifest(&reference, DOCKER_MANIFEST, &img.manifest.bytes, None)
        .await
        .unwrap_err();
    let Error::Registry { status, message } = err else {
        panic!("{err:?}")
    };
    assert_eq!(status, 400);
    assert!(message.starts_with("manifest blob unknown: "), "{message}");
}

#[tokio::test]
async fn docker_hub_names_are_pulled_from_a_mirror() {
    let mirror = Registry::start();
    let client = common::client();
    let img = image::simple_image("linux/amd64", "mirrored");
    let on_mirror: Reference = mirror.reference("library/busybox:latest").parse().unwrap();
    let (_, digest) = image::push(&client, &on_mirror, &img, None).await;
    assert_eq!(
        client
            .resolve(&on_mirror, &amd64(), None)
            .await
            .unwrap()
            .digest,
        digest
    );

    let via_mirror = Client::new(ClientConfig {
        mirrors: vec![format!("http://{}", mirror.host)],
        ..common::quick_config()
    })
    .unwrap();
    let hub: Reference = "busybox".parse().unwrap();
    let resolved = via_mirror.resolve(&hub, &amd64(), None).await.unwrap();
    assert_eq!(resolved.digest, digest);
    let layer = image::fetch(&via_mirror, &hub, &resolved.layers[0], None)
        .await
        .unwrap();
    assert_eq!(layer, img.layers[0].bytes);
}
