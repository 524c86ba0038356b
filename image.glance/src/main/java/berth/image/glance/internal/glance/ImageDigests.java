package berth.image.glance.internal.glance;

import berth.driver.api.ImageInfo;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Digests computed while image bytes stream past: MD5 (Glance's {@code checksum}), the multihash Glance names in
 * {@code os_hash_algo} (normally SHA-512), and optionally SHA-256 (the key {@link berth.driver.api.spi.LocalImage}
 * carries). {@link #verify} compares them and the byte count with what Glance reported.
 */
final class ImageDigests {
    /** The data did not match what Glance reported. */
    static final class MismatchException extends IOException {
        private static final long serialVersionUID = 1L;

        MismatchException(String message) {
            super(message);
        }
    }

    private final MessageDigest md5;
    private final MessageDigest multihash;
    private final String multihashName;
    private final MessageDigest sha256;
    private long count;

    ImageDigests(String hashAlgo, boolean withSha256) {
        md5 = digest("MD5");
        multihashName = hashAlgo == null ? "sha512" : hashAlgo.toLowerCase(Locale.ROOT);
        multihash = switch (multihashName) {
            case "sha512" -> digest("SHA-512");
            case "sha384" -> digest("SHA-384");
            case "sha256" -> digest("SHA-256");
            case "sha1" -> digest("SHA-1");
            default -> null;
        };
        sha256 = withSha256 ? (multihash != null && "sha256".equals(multihashName) ? null : digest("SHA-256")) : null;
    }

    void update(byte[] buf, int off, int len) {
        md5.update(buf, off, len);
        if (multihash != null) {
            multihash.update(buf, off, len);
        }
        if (sha256 != null) {
            sha256.update(buf, off, len);
        }
        count += len;
    }

    long count() {
        return count;
    }

    /** State after {@link #finish()}. */
    record Result(long size, String md5, String multihashName, String multihash, String sha256) {
    }

    Result finish() {
        String mh = multihash == null ? null : hex(multihash.digest());
        String s256 = sha256 != null ? hex(sha256.digest()) : "sha256".equals(multihashName) ? mh : null;
        return new Result(count, hex(md5.digest()), multihashName, mh, s256);
    }

    /**
     * @param what     words naming the transfer, for example {@code image 1234 from glance 'g'}
     * @param expected what Glance reported
     * @param got      what was computed
     * @throws MismatchException when size, checksum or multihash differ
     */
    static void verify(String what, ImageInfo expected, Result got) throws MismatchException {
        if (expected.size() >= 0 && got.size() < expected.size()) {
            throw new MismatchException(what + " is short: got " + got.size() + " of " + expected.size() + " bytes");
        }
        if (expected.size() >= 0 && got.size() > expected.size()) {
            throw new MismatchException(what + " is longer than the " + expected.size() + " bytes glance reports");
        }
        if (expected.checksum() != null && !expected.checksum().equalsIgnoreCase(got.md5())) {
            throw new MismatchException(what + " does not match its checksum: md5 " + got.md5()
                    + ", glance says " + expected.checksum());
        }
        if (expected.hashValue() != null && got.multihash() != null
                && !expected.hashValue().equalsIgnoreCase(got.multihash())) {
            throw new MismatchException(what + " does not match its os_hash_value: " + got.multihashName() + " "
                    + abbrev(got.multihash()) + ", glance says " + abbrev(expected.hashValue()));
        }
        if (expected.checksum() == null && (expected.hashValue() == null || got.multihash() == null)) {
            throw new MismatchException(what + " cannot be verified: glance reports no checksum");
        }
    }

    private static String abbrev(String hex) {
        return hex.length() > 16 ? hex.substring(0, 16) + "..." : hex;
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    private static MessageDigest digest(String name) {
        try {
            return MessageDigest.getInstance(name);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(name + " is missing from this JVM", e);
        }
    }
}
