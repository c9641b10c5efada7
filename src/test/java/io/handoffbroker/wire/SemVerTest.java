package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SemVerTest {

    /** The precedence example of semver.org, section 11, lowest first. */
    private static final List<String> SEMVER_ORG_ORDER = List.of("1.0.0-alpha", "1.0.0-alpha.1",
            "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0");

    private static int compare(String a, String b) {
        return SemVer.parse(a).compareTo(SemVer.parse(b));
    }

    @Test
    void precedenceFollowsTheSemverOrgExample() {
        for (int i = 0; i < SEMVER_ORG_ORDER.size(); i++) {
            for (int j = 0; j < SEMVER_ORG_ORDER.size(); j++) {
                String a = SEMVER_ORG_ORDER.get(i);
                String b = SEMVER_ORG_ORDER.get(j);
                assertThat(Integer.signum(compare(a, b))).as("%s vs %s", a, b).isEqualTo(Integer.compare(i, j));
            }
        }
    }

    @Test
    void sortingAShuffledListRestoresTheSemverOrgOrder() {
        List<SemVer> shuffled = new ArrayList<>(SEMVER_ORG_ORDER.stream().map(SemVer::parse).toList());
        Collections.shuffle(shuffled, new Random(42));
        Collections.sort(shuffled);
        assertThat(shuffled).extracting(SemVer::toString).containsExactlyElementsOf(SEMVER_ORG_ORDER);
    }

    @ParameterizedTest(name = "{0} > {1}")
    @CsvSource({
        "1.10.0, 1.9.0",
        "1.0.10, 1.0.9",
        "10.0.0, 9.99.99",
        "2.0.0, 1.99.99",
        "1.0.0, 1.0.0-rc.99",
        "1.0.0-beta.11, 1.0.0-beta.2",
        "1.0.0-a, 1.0.0-1",
        "1.0.0-alpha.a, 1.0.0-alpha.1",
        "1.0.0-alpha.1.0, 1.0.0-alpha.1",
        "18446744073709551616.0.0, 18446744073709551615.0.0",
        "99999999999999999999999.0.0, 9223372036854775807.0.0",
        "1.100000000000000000000.0, 1.99999999999999999999.0",
        "1.0.0-rc.100000000000000000000, 1.0.0-rc.99999999999999999999"})
    void theFirstIsHigherThanTheSecond(String higher, String lower) {
        assertThat(compare(higher, lower)).isPositive();
        assertThat(compare(lower, higher)).isNegative();
    }

    @Test
    void numbersCompareNumericallyNotLexically() {
        assertThat(compare("1.2.10", "1.2.9")).isPositive();
        assertThat(compare("1.0.0-9", "1.0.0-10")).isNegative();
        assertThat(compare("1.0.0", "01.0.0")).isZero();
    }

    @Test
    void equalVersionsCompareEqual() {
        assertThat(compare("1.2.3", "1.2.3")).isZero();
        assertThat(compare("1.2.3-rc.1", "1.2.3-rc.1")).isZero();
        assertThat(SemVer.parse("1.2.3-rc.1")).isEqualTo(SemVer.parse("1.2.3-rc.1"));
    }

    @Test
    void parseSplitsTheParts() {
        SemVer v = SemVer.parse("1.11.20-rc.1");
        assertThat(v.major()).isEqualTo("1");
        assertThat(v.minor()).isEqualTo("11");
        assertThat(v.patch()).isEqualTo("20");
        assertThat(v.prerelease()).isEqualTo("rc.1");
        assertThat(v.toString()).isEqualTo("1.11.20-rc.1");
        assertThat(v.sameAs("1.11.20-rc.1")).isTrue();
        assertThat(v.sameAs("1.11.20")).isFalse();

        SemVer release = SemVer.parse("3.0.7");
        assertThat(release.prerelease()).isEmpty();
        assertThat(release.toString()).isEqualTo("3.0.7");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1.2", "1.2.3.4", "v1.2.3", "1.2.3-", "1.2.3-RC", "1.2.3-rc_1", "", " 1.2.3", "1.2.3 ",
        "1.2.3\n", "1.2.3+build.1", "-1.2.3", "1.2.x", "1..3", "1.2.3-rc-1", "\uff11.2.3"})
    void parseRejectsABadShapeNamingTheBadValue(String text) {
        assertThat(SemVer.isValid(text)).isFalse();
        assertThatThrownBy(() -> SemVer.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'" + text + "'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.0.0", "1.2.3", "1.2.3-rc.1", "1.0.0-alpha.beta", "123456789012345678901234567890.0.0"})
    void validShapesParseAndRoundTrip(String text) {
        assertThat(SemVer.isValid(text)).isTrue();
        assertThat(SemVer.parse(text).toString()).isEqualTo(text);
    }
}
