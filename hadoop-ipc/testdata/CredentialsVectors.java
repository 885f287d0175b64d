// Prints what Hadoop's own classes write for the fixtures in src/credentials.rs and
// src/writable.rs, to compare with the bytes written there by hand. Needs hadoop-common
// and hadoop-yarn-common (and their dependencies) on the class path, e.g.
//
//   java -cp "$HADOOP_HOME/share/hadoop/common/*:$HADOOP_HOME/share/hadoop/common/lib/*:$HADOOP_HOME/share/hadoop/yarn/*" \
//       CredentialsVectors.java
//
// Run by hand; the tests only hold its output.
import java.io.*;
import org.apache.hadoop.io.*;
import org.apache.hadoop.security.Credentials;
import org.apache.hadoop.security.token.*;
import org.apache.hadoop.yarn.api.records.ApplicationAttemptId;
import org.apache.hadoop.yarn.api.records.ApplicationId;
import org.apache.hadoop.yarn.security.AMRMTokenIdentifier;

public class CredentialsVectors {
    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x & 0xff));
        return s.toString();
    }

    public static void main(String[] args) throws Exception {
        System.out.println("hadoop " + org.apache.hadoop.util.VersionInfo.getVersion());
        ApplicationId app = ApplicationId.newInstance(1700000000000L, 1);
        AMRMTokenIdentifier id = new AMRMTokenIdentifier(ApplicationAttemptId.newInstance(app, 1), 42);
        System.out.println("amrm identifier " + hex(id.getBytes()));

        byte[] pw = new byte[20];
        int[] pwv = {0x3c, 0x51, 0x9e, 0x02, 0xa7, 0xff, 0x10, 0x00, 0x81, 0x6b, 0x44, 0xd9, 0x0e, 0x27,
                0xc3, 0x5a, 0x99, 0x01, 0xfe, 0x70};
        for (int i = 0; i < 20; i++) pw[i] = (byte) pwv[i];
        Token<AMRMTokenIdentifier> token =
                new Token<>(id.getBytes(), pw, new Text("YARN_AM_RM_TOKEN"), new Text("127.0.0.1:8030"));
        Credentials creds = new Credentials();
        creds.addToken(new Text("127.0.0.1:8030"), token);
        for (Credentials.SerializedFormat f : Credentials.SerializedFormat.values()) {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            creds.writeTokenStorageToStream(new DataOutputStream(bos), f);
            System.out.println("amrm credentials " + f + " " + hex(bos.toByteArray()));
        }
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        creds.writeTokenStorageToStream(new DataOutputStream(bos));
        System.out.println("amrm credentials default " + hex(bos.toByteArray()));
        System.out.println("amrm url string " + token.encodeToUrlString());

        Credentials small = new Credentials();
        small.addToken(new Text("a"), new Token<>(new byte[] {(byte) 0xaa}, new byte[] {(byte) 0xbb},
                new Text("K"), new Text("S")));
        small.addSecretKey(new Text("s"), new byte[] {(byte) 0xcc});
        for (Credentials.SerializedFormat f : Credentials.SerializedFormat.values()) {
            bos = new ByteArrayOutputStream();
            small.writeTokenStorageToStream(new DataOutputStream(bos), f);
            System.out.println("small credentials " + f + " " + hex(bos.toByteArray()));
        }
        Token<TokenIdentifier> t = new Token<>(new byte[] {(byte) 0xfb, (byte) 0xff}, new byte[] {0x3e},
                new Text("K"), new Text("s:1"));
        System.out.println("small url string " + t.encodeToUrlString());

        long[] values = {0, 1, 127, -1, -112, 128, 255, 256, -113, -256, -257, 65535, 65536,
                Integer.MAX_VALUE, Integer.MIN_VALUE, 1700000000000L, Long.MAX_VALUE, Long.MIN_VALUE};
        for (long v : values) {
            bos = new ByteArrayOutputStream();
            WritableUtils.writeVLong(new DataOutputStream(bos), v);
            System.out.println("vlong " + v + " " + hex(bos.toByteArray()));
        }
        bos = new ByteArrayOutputStream();
        Text.writeString(new DataOutputStream(bos), "héllo");
        System.out.println("text héllo " + hex(bos.toByteArray()));
    }
}
