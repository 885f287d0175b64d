//! Seed corpora for the fuzz targets: realistic Hadoop bytes built with the crate's own
//! writers (credentials, tokens, frames) or copied from real servers (challenges).
//! The `rspauth` values were computed independently (RFC 2831, user `aWQ=`, password
//! `cHc=`, cnonce `fuzz`, as `fuzzing::digest_exchange` uses) and are checked here.

use std::fs;
use std::path::Path;

use prost::Message;
use spindle_hadoop_ipc::sasl::{DigestMd5Client, DigestMd5Config};
use spindle_hadoop_ipc::writable::{write_text, write_vint, write_vint_bytes, write_vlong};
use spindle_hadoop_ipc::{Credentials, CredentialsFormat, Token};
use spindle_proto::hadoop::common::rpc_response_header_proto::{RpcErrorCodeProto, RpcStatusProto};
use spindle_proto::hadoop::common::rpc_sasl_proto::{SaslAuth, SaslState};
use spindle_proto::hadoop::common::{RpcResponseHeaderProto, RpcSaslProto};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus");

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(ROOT).join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
    println!("{target}/{name}: {} bytes", bytes.len());
}

fn frame_body(header: &RpcResponseHeaderProto, payload: Option<&[u8]>) -> Vec<u8> {
    let mut out = header.encode_length_delimited_to_vec();
    if let Some(p) = payload {
        out.extend_from_slice(p);
    }
    out
}

fn with_len(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn main() {
    // ---- DIGEST-MD5 challenges (what Hadoop servers send) and exchanges.
    let challenges: [(&str, &[u8]); 4] = [
        ("hadoop_privacy", b"realm=\"default\",nonce=\"abc\",qop=\"auth,auth-int,auth-conf\",cipher=\"3des,rc4,des,rc4-56,rc4-40\",charset=utf-8,algorithm=md5-sess"),
        ("namenode_auth_conf", b"realm=\"default\",nonce=\"QuL3byVoKS0cM/M4b9/Dn2Pa0s/E8HSjXJW7XPim\",qop=\"auth-conf,auth\",charset=utf-8,cipher=\"3des,rc4,des,rc4-56,rc4-40\",algorithm=md5-sess"),
        ("auth_only", b"realm=\"default\",nonce=\"abc\",qop=\"auth\",charset=utf-8,algorithm=md5-sess"),
        ("integrity_maxbuf_realms", b"realm=\"r1\",realm=\"r\\\"2\", nonce=\"bm9uY2U\" ,qop=auth-int,maxbuf=4096,stale=false,algorithm=md5-sess"),
    ];
    for (name, ch) in challenges {
        put("sasl_challenge", name, ch);
    }
    let exchanges: [(&str, &[u8], &[u8]); 3] = [
        ("auth_conf", challenges[1].1, b"rspauth=95c30f8c9ac20decd8c2e64b1c118a67"),
        ("auth", challenges[2].1, b"rspauth=adec789876f349c8d8cb5eb8ea33f094"),
        ("auth_int", b"realm=\"default\",nonce=\"bm9uY2U\",qop=\"auth-int\",charset=utf-8,algorithm=md5-sess", b"rspauth=e64b08f2edd4ec0020742dcf3de87fa0"),
    ];
    for (name, ch, fin) in exchanges {
        // The seed must get through finish(), or the fuzzer never sees the layer set-up.
        let cfg = DigestMd5Config::hadoop_token(b"id", b"pw");
        let (_, pending) = DigestMd5Client::new(cfg)
            .with_cnonce("fuzz")
            .respond(ch)
            .expect(name);
        let n = pending.finish(fin).expect(name);
        assert_eq!(n.security_layer.is_some(), name != "auth");
        let mut seed = ch.to_vec();
        seed.push(0);
        seed.extend_from_slice(fin);
        put("sasl_exchange", name, &seed);
    }

    // ---- Tokens and credentials files.
    let am_rm = Token::new(
        // A YARN AMRMTokenIdentifier-like protobuf identifier.
        b"\n\x0c\n\x06\x08\x01\x10\xe8\x07\x10\x01\x10\x01\x10\x07".to_vec(),
        vec![0x5a; 20],
        "YARN_AM_RM_TOKEN",
        "192.168.1.10:8030",
    );
    let hdfs = Token::new(
        vec![
            0, 26, 104, 100, 102, 115, 47, 108, 111, 99, 97, 108, 104, 111, 115, 116, 64, 69, 88,
            65, 77, 80, 76, 69, 46, 67, 79, 77, 0, 0, 138, 1, 142, 109, 254, 210, 147, 138, 1, 142,
            146, 11, 86, 147, 1, 2,
        ],
        vec![
            14, 15, 143, 95, 134, 65, 129, 9, 34, 197, 119, 3, 114, 115, 76, 203, 148, 2, 171, 78,
        ],
        "HDFS_DELEGATION_TOKEN",
        "ha-hdfs:mycluster",
    );
    put("token", "am_rm_writable", &am_rm.to_writable_bytes());
    put("token", "hdfs_writable", &hdfs.to_writable_bytes());
    put(
        "token",
        "hdfs_url_string",
        hdfs.encode_url_string().as_bytes(),
    );

    let mut creds = Credentials::new();
    creds.add_token("appattempt_1700000000000_0001_000001", am_rm);
    creds.add_token("ha-hdfs:mycluster", hdfs);
    creds.add_secret("spark.io.encryption.key", b"0123456789abcdef".to_vec());
    put(
        "credentials",
        "v0_writable",
        &creds.write_token_storage_as(CredentialsFormat::Writable),
    );
    put(
        "credentials",
        "v1_protobuf",
        &creds.write_token_storage_as(CredentialsFormat::Protobuf),
    );
    put("credentials", "v0_empty", b"HDTS\x00\x00\x00");
    for entry in fs::read_dir(Path::new(ROOT).join("credentials")).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        Credentials::read_token_storage(&bytes).expect("seed parses");
    }

    // ---- Response frames.
    let ok = RpcResponseHeaderProto {
        call_id: 7,
        status: RpcStatusProto::Success as i32,
        server_ipc_version_num: Some(9),
        client_id: Some(vec![0xab; 16]),
        retry_count: Some(-1),
        state_id: Some(42),
        ..Default::default()
    };
    // Payload: a length-delimited response message (here an arbitrary small proto).
    let payload = RpcSaslProto {
        version: None,
        state: SaslState::Success as i32,
        token: None,
        auths: vec![],
    }
    .encode_length_delimited_to_vec();
    let ok_frame = frame_body(&ok, Some(&payload));
    let err = RpcResponseHeaderProto {
        call_id: 8,
        status: RpcStatusProto::Error as i32,
        exception_class_name: Some("org.apache.hadoop.ipc.RemoteException".into()),
        error_msg: Some("Application application_1_0001 not found".into()),
        error_detail: Some(RpcErrorCodeProto::ErrorApplication as i32),
        client_id: Some(vec![0xab; 16]),
        retry_count: Some(-1),
        ..Default::default()
    };
    let err_frame = frame_body(&err, None);
    let sasl_hdr = RpcResponseHeaderProto {
        call_id: (-33i32) as u32,
        status: RpcStatusProto::Success as i32,
        ..Default::default()
    };
    let negotiate = RpcSaslProto {
        version: None,
        state: SaslState::Negotiate as i32,
        token: None,
        auths: vec![SaslAuth {
            method: "TOKEN".into(),
            mechanism: "DIGEST-MD5".into(),
            protocol: Some(String::new()),
            server_id: Some("default".into()),
            challenge: Some(challenges[0].1.to_vec()),
        }],
    };
    let sasl_frame = frame_body(&sasl_hdr, Some(&negotiate.encode_length_delimited_to_vec()));
    put("frame", "success", &ok_frame);
    put("frame", "error", &err_frame);
    put("frame", "sasl_negotiate", &sasl_frame);

    let mut stream = Vec::new();
    for f in [&sasl_frame, &ok_frame, &err_frame] {
        stream.extend_from_slice(&with_len(f));
    }
    put("frame_stream", "three_frames", &stream);
    let mut partial = with_len(&ok_frame);
    partial.extend_from_slice(&with_len(&err_frame)[..10]);
    put("frame_stream", "partial_tail", &partial);

    // ---- Writable ops: opcode byte (0 VLong, 1 VInt, 2 Text, 3 bytes, 4 length), value.
    let mut w = Vec::new();
    for v in [
        0i64,
        127,
        -112,
        128,
        -113,
        65_536,
        1_700_000_000_000,
        i64::MAX,
        i64::MIN,
    ] {
        w.push(0);
        write_vlong(&mut w, v);
    }
    for v in [i32::MAX, i32::MIN, -1] {
        w.push(1);
        write_vint(&mut w, v);
    }
    w.push(2);
    write_text(&mut w, "YARN_AM_RM_TOKEN");
    w.push(2);
    write_text(&mut w, "héllo ✓");
    w.push(3);
    write_vint_bytes(&mut w, &[0, 1, 2, 0xff]);
    w.push(4);
    write_vint(&mut w, 300);
    put("writable", "all_ops", &w);
    // Non-minimal encodings Java accepts: 5 as a 2-byte VLong, 1 as a 9-byte one.
    put(
        "writable",
        "non_minimal",
        &[0, 0x8f, 0x05, 0, 0x88, 0, 0, 0, 0, 0, 0, 0, 1],
    );
}
