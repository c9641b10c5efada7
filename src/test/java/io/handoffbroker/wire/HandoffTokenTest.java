package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HandoffTokenTest {

    private static final byte[] GOLDEN = HexFormat.of().parseHex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");

    @Test
    void generateGivesSixteenBytes() {
        HandoffToken token = HandoffToken.generate(new SecureRandom());
        assertThat(token.toByteArray()).hasSize(16);
        assertThat(token.toByteString().size()).isEqualTo(16);
        assertThat(HandoffToken.LENGTH).isEqualTo(16);
    }

    @Test
    void generateGivesDistinctValues() {
        SecureRandom random = new SecureRandom();
        Set<ByteString> seen = new HashSet<>();
        for (int i = 0; i < 1_000; i++) {
            assertThat(seen.add(HandoffToken.generate(random).toByteString())).as("token %d is new", i).isTrue();
        }
    }

    @Test
    void generateDrawsItsBytesFromTheGivenRandomSource() {
        SecureRandom fixed = new SecureRandom() {
            @Override
            public void nextBytes(byte[] bytes) {
                System.arraycopy(GOLDEN, 0, bytes, 0, bytes.length);
            }
        };
        assertThat(HandoffToken.generate(fixed).toByteArray()).isEqualTo(GOLDEN);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 15, 17, 32})
    void ofRejectsAnyLengthButSixteen(int length) {
        assertThatThrownBy(() -> HandoffToken.of(new byte[length])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(String.valueOf(length));
        assertThatThrownBy(() -> HandoffToken.of(ByteString.copyFrom(new byte[length])))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void ofKeepsItsOwnCopyAndHandsOutCopies() {
        byte[] received = GOLDEN.clone();
        HandoffToken token = HandoffToken.of(received);
        received[0] ^= 1;
        assertThat(token.toByteArray()).isEqualTo(GOLDEN);
        token.toByteArray()[1] ^= 1;
        assertThat(token.matches(GOLDEN)).isTrue();
    }

    @Test
    void matchesOnlyTheSameBytes() {
        HandoffToken token = HandoffToken.of(GOLDEN);
        assertThat(token.matches(GOLDEN.clone())).isTrue();
        assertThat(token.matches(ByteString.copyFrom(GOLDEN))).isTrue();
        for (int i = 0; i < GOLDEN.length; i++) {
            byte[] other = GOLDEN.clone();
            other[i] ^= 0x01;
            assertThat(token.matches(other)).as("one bit flipped in byte %d", i).isFalse();
            assertThat(token.matches(ByteString.copyFrom(other))).isFalse();
        }
    }

    @Test
    void matchesIsFalseForOtherLengths() {
        HandoffToken token = HandoffToken.of(GOLDEN);
        assertThat(token.matches(Arrays.copyOf(GOLDEN, 15))).isFalse();
        assertThat(token.matches(Arrays.copyOf(GOLDEN, 17))).isFalse();
        assertThat(token.matches(ScriptedChannel.concat(GOLDEN, GOLDEN))).isFalse();
        assertThat(token.matches(new byte[0])).isFalse();
        assertThat(token.matches(ByteString.EMPTY)).isFalse();
    }

    @Test
    void toStringNeverRendersTheSecret() {
        HandoffToken token = HandoffToken.of(GOLDEN);
        String rendered = token.toString();
        String concatenated = "token=" + token;
        for (String text : new String[] {rendered, concatenated, String.valueOf(token)}) {
            assertThat(text)
                    .doesNotContainIgnoringCase(HexFormat.of().formatHex(GOLDEN))
                    .doesNotContainIgnoringCase(HexFormat.of().formatHex(GOLDEN, 0, 4))
                    .doesNotContain(Base64.getEncoder().encodeToString(GOLDEN))
                    .doesNotContain(Base64.getEncoder().withoutPadding().encodeToString(GOLDEN))
                    .doesNotContain(Base64.getUrlEncoder().withoutPadding().encodeToString(GOLDEN))
                    .doesNotContain(Base64.getEncoder().encodeToString(Arrays.copyOf(GOLDEN, 6)))
                    .doesNotContain(Arrays.toString(GOLDEN))
                    .doesNotContain(ByteString.copyFrom(GOLDEN).toString());
        }
        assertThat(rendered).contains("redacted");
    }

    @Test
    void toStringIsTheSameForEveryToken() {
        SecureRandom random = new SecureRandom();
        assertThat(HandoffToken.generate(random).toString()).isEqualTo(HandoffToken.generate(random).toString());
    }

    @Test
    void equalsAndHashCodeFollowTheBytes() {
        HandoffToken a = HandoffToken.of(GOLDEN);
        HandoffToken b = HandoffToken.of(GOLDEN.clone());
        byte[] otherBytes = GOLDEN.clone();
        otherBytes[15] ^= 0x01;
        HandoffToken c = HandoffToken.of(otherBytes);

        assertThat(a).isEqualTo(a).isEqualTo(b).isNotEqualTo(c);
        assertThat(b).isEqualTo(a);
        assertThat(a.hashCode()).isEqualTo(b.hashCode());
        assertThat(a).isNotEqualTo(null).isNotEqualTo(ByteString.copyFrom(GOLDEN)).isNotEqualTo(GOLDEN);
        assertThat(Set.of(a, c)).contains(b);
    }
}
