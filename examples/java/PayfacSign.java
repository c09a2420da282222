// payfac merchant-side signing sample (JDK 17 only: java.security + java.net.http).
//
// Usage (single-file source launch, no build step):
//   java PayfacSign.java vectors VECTORS_JSON_PATH
//   java PayfacSign.java call BASE_URL MERCHANT_ID PRIVATE_KEY_PEM MERCHANT_USER_NO EMAIL
//
// The private key must be PKCS#8 PEM ("BEGIN PRIVATE KEY"). Convert a PKCS#1
// key ("BEGIN RSA PRIVATE KEY") with:
//   openssl pkcs8 -topk8 -nocrypt -in merchant.rsa.pem -out merchant.key.pem

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

public class PayfacSign {

    // docs/PROTOCOL.md §2 sorted_params: split on '&' (skip empty parts), split at the first '=',
    // form-urlencoded-decode ('+' is a space), sort by key then value in UTF-8 byte
    // order (String.compareTo would use UTF-16 order, which differs for some characters).
    static String sortedParams(String rawQuery) {
        List<String[]> pairs = new ArrayList<>();
        for (String part : rawQuery.split("&")) {
            if (part.isEmpty()) continue;
            int i = part.indexOf('=');
            String k = i < 0 ? part : part.substring(0, i);
            String v = i < 0 ? "" : part.substring(i + 1);
            pairs.add(new String[] {URLDecoder.decode(k, StandardCharsets.UTF_8),
                                    URLDecoder.decode(v, StandardCharsets.UTF_8)});
        }
        Comparator<String> utf8 = (a, b) -> Arrays.compareUnsigned(
                a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
        pairs.sort(Comparator.<String[], String>comparing(p -> p[0], utf8).thenComparing(p -> p[1], utf8));
        return pairs.stream().map(p -> p[0] + "=" + p[1]).collect(Collectors.joining("&"));
    }

    // No separators; the body is appended as the exact bytes that are sent.
    static byte[] signatureString(String rawQuery, String timestamp, String nonce, byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes((sortedParams(rawQuery) + timestamp + nonce).getBytes(StandardCharsets.UTF_8));
        out.writeBytes(body);
        return out.toByteArray();
    }

    static byte[] pemBody(Path path) throws Exception {
        String pem = Files.readString(path).replaceAll("-----[A-Z ]+-----", "");
        return Base64.getMimeDecoder().decode(pem);
    }

    static PrivateKey loadPrivateKey(Path path) throws Exception { // PKCS#8 only
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pemBody(path)));
    }

    static PublicKey loadPublicKey(Path path) throws Exception { // SPKI ("BEGIN PUBLIC KEY")
        return KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(pemBody(path)));
    }

    // RSASSA-PKCS1-v1_5 with SHA-256, standard (padded) base64.
    static String sign(PrivateKey key, byte[] data) throws Exception {
        Signature s = Signature.getInstance("SHA256withRSA");
        s.initSign(key);
        s.update(data);
        return Base64.getEncoder().encodeToString(s.sign());
    }

    static int vectors(Path path) throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> doc = (Map<String, Object>) new Json(Files.readString(path)).value();
        Path dir = path.toAbsolutePath().getParent();
        PrivateKey priv = loadPrivateKey(dir.resolve((String) doc.get("privateKey")));
        PublicKey pub = loadPublicKey(dir.resolve((String) doc.get("publicKey")));
        int failed = 0;
        for (Object o : (List<?>) doc.get("cases")) {
            Map<?, ?> c = (Map<?, ?>) o;
            byte[] data = signatureString((String) c.get("rawQuery"), (String) c.get("timestamp"),
                    (String) c.get("nonce"), ((String) c.get("body")).getBytes(StandardCharsets.UTF_8));
            String text = new String(data, StandardCharsets.UTF_8);
            String sig = sign(priv, data);
            String why = null;
            if (!text.equals(c.get("signatureString"))) {
                why = "signature string \"" + text + "\" != \"" + c.get("signatureString") + "\"";
            } else if (!sig.equals(c.get("signature"))) {
                why = "signature " + sig + " != expected";
            } else {
                Signature v = Signature.getInstance("SHA256withRSA");
                v.initVerify(pub);
                v.update(data);
                if (!v.verify(Base64.getDecoder().decode(sig))) why = "public key does not verify";
            }
            if (why != null) failed++;
            System.out.println(why == null ? "ok " + c.get("name") : "FAIL " + c.get("name") + ": " + why);
        }
        return failed == 0 ? 0 : 1;
    }

    static int call(String baseUrl, String merchantId, Path keyPath, String merchantUserNo, String email)
            throws Exception {
        PrivateKey key = loadPrivateKey(keyPath);
        // Serialize the body ONCE; sign and send these very bytes.
        byte[] body = ("{\"merchantUserNo\":" + Json.quote(merchantUserNo) + ",\"email\":" + Json.quote(email) + "}")
                .getBytes(StandardCharsets.UTF_8);
        String timestamp = Long.toString(System.currentTimeMillis() / 1000); // seconds, not milliseconds
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        SecureRandom rnd = new SecureRandom();
        StringBuilder nonce = new StringBuilder();
        for (int i = 0; i < 24; i++) nonce.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
        String signature = sign(key, signatureString("", timestamp, nonce.toString(), body));

        HttpRequest req = HttpRequest.newBuilder(URI.create(baseUrl.replaceAll("/+$", "") + "/pay-fac/" + merchantId + "/v1/user"))
                .header("Content-Type", "application/json")
                .header("timestamp", timestamp)
                .header("nonce", nonce.toString())
                .header("signature", signature)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        // Errors (4xx/5xx) carry the JSON envelope too, so the status code is not checked here.
        String text = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8)).body();
        System.out.println(text);
        try {
            Object envelope = new Json(text).value();
            return envelope instanceof Map && "0000".equals(((Map<?, ?>) envelope).get("code")) ? 0 : 1;
        } catch (RuntimeException e) {
            return 1;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("vectors")) {
            System.exit(vectors(Path.of(args[1])));
        } else if (args.length == 6 && args[0].equals("call")) {
            System.exit(call(args[1], args[2], Path.of(args[3]), args[4], args[5]));
        }
        System.err.println("usage: java PayfacSign.java vectors VECTORS_JSON_PATH\n"
                + "       java PayfacSign.java call BASE_URL MERCHANT_ID PRIVATE_KEY_PEM MERCHANT_USER_NO EMAIL");
        System.exit(2);
    }

    /**
     * A deliberately tiny JSON reader, enough for the vectors file and the response envelope
     * (the JDK has no JSON API; in a real service use your usual library, e.g. Jackson).
     * Objects become LinkedHashMap, arrays ArrayList, strings String; numbers, true, false
     * and null are returned as their raw text (null as Java null). No validation beyond that.
     */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) { this.s = s; }

        Object value() {
            skipWs();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                while (skipWs() != '}') {
                    if (s.charAt(i) == ',') { i++; continue; }
                    String k = string();
                    skipWs();
                    i++; // ':'
                    m.put(k, value());
                }
                i++;
                return m;
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                while (skipWs() != ']') {
                    if (s.charAt(i) == ',') { i++; continue; }
                    l.add(value());
                }
                i++;
                return l;
            }
            if (c == '"') return string();
            int start = i; // number / true / false / null: read up to the next delimiter
            while (i < s.length() && ",}] \t\r\n".indexOf(s.charAt(i)) < 0) i++;
            String raw = s.substring(start, i);
            return raw.equals("null") ? null : raw;
        }

        private char skipWs() {
            while (Character.isWhitespace(s.charAt(i))) i++;
            return s.charAt(i);
        }

        private String string() { // at the opening quote; handles \" \\ \/ \b \f \n \r \t \\uXXXX
            StringBuilder b = new StringBuilder();
            i++;
            for (char c; (c = s.charAt(i++)) != '"'; ) {
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> b.append(e); // \" \\ \/
                }
            }
            return b.toString();
        }

        static String quote(String v) { // JSON string literal for the request body
            StringBuilder b = new StringBuilder("\"");
            for (char c : v.toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    default -> b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
                }
            }
            return b.append('"').toString();
        }
    }
}
