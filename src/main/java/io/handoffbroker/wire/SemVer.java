package io.handoffbroker.wire;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A version in the shape the protocol accepts for {@code wanted_version}:
 * {@code MAJOR.MINOR.PATCH} with an optional {@code -prerelease} of lower-case
 * letters, digits and dots. Ordered by semantic-versioning precedence: numbers
 * numerically, a prerelease below its release, prerelease identifiers compared
 * numerically when both are numeric and lexically otherwise.
 */
public record SemVer(String major, String minor, String patch, String prerelease) implements Comparable<SemVer> {

    private static final Pattern SHAPE = Pattern.compile("^([0-9]+)\\.([0-9]+)\\.([0-9]+)(?:-([a-z0-9.]+))?$");
    private static final Pattern NUMERIC = Pattern.compile("[0-9]+");

    /** Parses the published shape; throws {@link IllegalArgumentException} naming the bad value otherwise. */
    public static SemVer parse(String text) {
        var matcher = SHAPE.matcher(text);
        if (!matcher.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not MAJOR.MINOR.PATCH[-prerelease]");
        }
        String pre = matcher.group(4);
        return new SemVer(matcher.group(1), matcher.group(2), matcher.group(3), pre == null ? "" : pre);
    }

    /** True when the text has the published shape. */
    public static boolean isValid(String text) {
        return SHAPE.matcher(text).matches();
    }

    @Override
    public int compareTo(SemVer other) {
        int c = compareNumeric(major, other.major);
        if (c == 0) {
            c = compareNumeric(minor, other.minor);
        }
        if (c == 0) {
            c = compareNumeric(patch, other.patch);
        }
        if (c == 0) {
            c = comparePrerelease(prerelease, other.prerelease);
        }
        return c;
    }

    // Numbers may be longer than a long; compare them as digit strings.
    private static int compareNumeric(String a, String b) {
        String x = stripLeadingZeros(a);
        String y = stripLeadingZeros(b);
        return x.length() != y.length() ? Integer.compare(x.length(), y.length()) : x.compareTo(y);
    }

    private static String stripLeadingZeros(String s) {
        int i = 0;
        while (i < s.length() - 1 && s.charAt(i) == '0') {
            i++;
        }
        return s.substring(i);
    }

    private static int comparePrerelease(String a, String b) {
        if (a.equals(b)) {
            return 0;
        }
        if (a.isEmpty()) {
            return 1;
        }
        if (b.isEmpty()) {
            return -1;
        }
        String[] x = a.split("\\.", -1);
        String[] y = b.split("\\.", -1);
        for (int i = 0; i < Math.min(x.length, y.length); i++) {
            boolean xNum = NUMERIC.matcher(x[i]).matches();
            boolean yNum = NUMERIC.matcher(y[i]).matches();
            int c;
            if (xNum && yNum) {
                c = compareNumeric(x[i], y[i]);
            } else if (xNum != yNum) {
                c = xNum ? -1 : 1;
            } else {
                c = x[i].compareTo(y[i]);
            }
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.length, y.length);
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch + (prerelease.isEmpty() ? "" : "-" + prerelease);
    }

    public boolean sameAs(String text) {
        return Objects.equals(toString(), text);
    }
}
