package io.handoffbroker.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Hello;
import java.nio.charset.StandardCharsets;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class HelloRulesTest {

    private static final long UNKNOWN_PID = -1;

    private static Hello hello(UnaryOperator<Hello.Builder> change) {
        return change.apply(Hello.newBuilder().setClientMinProtocol(1).setClientMaxProtocol(1)
                .setServiceName("echo").setWantedVersion("1.2.3")).build();
    }

    private static void assertAccepted(Hello hello, long kernelPid) {
        assertThatCode(() -> HelloRules.validate(hello, kernelPid)).as("validate(%s)", hello)
                .doesNotThrowAnyException();
    }

    private static void assertAccepted(Hello hello) {
        assertAccepted(hello, UNKNOWN_PID);
    }

    private static HelloShapeException rejection(Hello hello, long kernelPid) {
        HelloShapeException e = catchThrowableOfType(HelloShapeException.class,
                () -> HelloRules.validate(hello, kernelPid));
        assertThat(e).as("validate(%s)", hello).isNotNull();
        return e;
    }

    private static HelloShapeException peerRejected(Hello hello) {
        HelloShapeException e = rejection(hello, UNKNOWN_PID);
        assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
        return e;
    }

    @Test
    void theSmallestHelloIsAccepted() {
        assertAccepted(hello(b -> b));
    }

    // --- service_name --------------------------------------------------------------------

    @Test
    void aServiceNameOfSixtyFourCharactersIsAccepted() {
        assertAccepted(hello(b -> b.setServiceName("a".repeat(64))));
        assertAccepted(hello(b -> b.setServiceName("my-service-2")));
        assertAccepted(hello(b -> b.setServiceName("0")));
    }

    @Test
    void aServiceNameOfSixtyFiveCharactersIsRejected() {
        assertThat(peerRejected(hello(b -> b.setServiceName("a".repeat(65)))).reason())
                .isEqualTo("invalid service_name");
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "Echo", "ECHO", "my_service", "echo.svc", "echo service", "echo\n", "\u00e9cho",
        "echo/../x"})
    void aServiceNameOutsideLowerCaseLettersDigitsAndDashIsRejected(String name) {
        assertThat(peerRejected(hello(b -> b.setServiceName(name))).reason()).isEqualTo("invalid service_name");
        assertThat(HelloRules.isValidServiceName(name)).isFalse();
    }

    // --- wanted_version ------------------------------------------------------------------

    @Test
    void aWantedVersionOfSixtyFourBytesIsAcceptedAndSixtyFiveRejected() {
        String v64 = "1.2.3-" + "a".repeat(58);
        String v65 = "1.2.3-" + "a".repeat(59);
        assertThat(v64).hasSize(64);
        assertThat(SemVer.isValid(v65)).as("the 65-byte version is only too long, not misshapen").isTrue();
        assertAccepted(hello(b -> b.setWantedVersion(v64)));
        assertThat(peerRejected(hello(b -> b.setWantedVersion(v65))).reason()).isEqualTo("invalid wanted_version");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1.2.3-rc.1", "0.0.0", "10.20.30", "1.11.20-rc.1", "1.0.0-alpha.beta.1"})
    void aWantedVersionInThePublishedShapeIsAccepted(String version) {
        assertAccepted(hello(b -> b.setWantedVersion(version)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"1.2", "1.2.3-RC", "", "v1.2.3", "1.2.3+build", "1.2.3 ", "1.2.3\n", "1.2.3-", "1.2.3.4"})
    void aWantedVersionOutsideThePublishedShapeIsRejected(String version) {
        assertThat(peerRejected(hello(b -> b.setWantedVersion(version))).reason())
                .isEqualTo("invalid wanted_version");
    }

    // --- string caps (bytes, not characters) ---------------------------------------------

    @Test
    void clientVersionIsCappedAtOneHundredTwentyEightBytes() {
        assertAccepted(hello(b -> b.setClientVersion("v".repeat(128))));
        assertThat(peerRejected(hello(b -> b.setClientVersion("v".repeat(129)))).reason())
                .contains("client_version");
    }

    @Test
    void clientVersionIsMeasuredInUtf8Bytes() {
        String e64 = "\u00e9".repeat(64); // 128 bytes
        String e65 = "\u00e9".repeat(65); // 65 characters, 130 bytes
        assertThat(e65.getBytes(StandardCharsets.UTF_8)).hasSize(130);
        assertAccepted(hello(b -> b.setClientVersion(e64)));
        assertThat(peerRejected(hello(b -> b.setClientVersion(e65))).reason()).contains("client_version");
    }

    @Test
    void clientLibNameIsCappedAtSixtyFourBytes() {
        assertAccepted(hello(b -> b.setClientLibName("n".repeat(64))));
        assertThat(peerRejected(hello(b -> b.setClientLibName("n".repeat(65)))).reason())
                .contains("client_lib_name");
        assertThat(peerRejected(hello(b -> b.setClientLibName("\u00e9".repeat(33)))).reason())
                .contains("client_lib_name");
    }

    @Test
    void clientLibVersionIsCappedAtSixtyFourBytes() {
        assertAccepted(hello(b -> b.setClientLibVersion("1".repeat(64))));
        assertThat(peerRejected(hello(b -> b.setClientLibVersion("1".repeat(65)))).reason())
                .contains("client_lib_version");
        assertThat(peerRejected(hello(b -> b.setClientLibVersion("\u00e9".repeat(33)))).reason())
                .contains("client_lib_version");
    }

    // --- protocol range ------------------------------------------------------------------

    @ParameterizedTest(name = "{0}..{1}")
    @CsvSource({"1,1", "0,1", "1,5", "0,4294967295", "1,4294967295"})
    void aProtocolRangeContainingOneIsAccepted(long min, long max) {
        assertAccepted(hello(b -> b.setClientMinProtocol((int) min).setClientMaxProtocol((int) max)));
    }

    @ParameterizedTest(name = "{0}..{1}")
    @CsvSource({"2,3", "0,0", "3,1", "1,0", "2,2", "4294967295,4294967295", "4294967295,1"})
    void aProtocolRangeWithoutOneIsVersionUnsupported(long min, long max) {
        HelloShapeException e = rejection(
                hello(b -> b.setClientMinProtocol((int) min).setClientMaxProtocol((int) max)), UNKNOWN_PID);
        assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_VERSION_UNSUPPORTED);
    }

    @Test
    void theProtocolRangeIsCheckedBeforeTheShapeRules() {
        Hello bad = hello(b -> b.setClientMinProtocol(2).setClientMaxProtocol(3).setServiceName("BAD")
                .setWantedVersion("x"));
        assertThat(rejection(bad, UNKNOWN_PID).errorCode()).isEqualTo(ErrorCode.ERROR_VERSION_UNSUPPORTED);
    }

    @Test
    void theServiceNameIsCheckedBeforeTheWantedVersion() {
        Hello bad = hello(b -> b.setServiceName("BAD").setWantedVersion("x"));
        assertThat(peerRejected(bad).reason()).isEqualTo("invalid service_name");
    }

    // --- peer_pid ------------------------------------------------------------------------

    @Test
    void aZeroPeerPidIsNeverChecked() {
        assertAccepted(hello(b -> b.setPeerPid(0)), 4242);
    }

    @Test
    void aPeerPidMatchingTheKernelPidIsAccepted() {
        assertAccepted(hello(b -> b.setPeerPid(4242)), 4242);
    }

    @Test
    void aPeerPidDifferentFromTheKernelPidIsRejected() {
        HelloShapeException e = rejection(hello(b -> b.setPeerPid(4242)), 4243);
        assertThat(e.errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
        assertThat(e.reason()).contains("peer_pid");
    }

    @Test
    void aPeerPidIsNotCheckedWhenTheKernelPidIsUnknown() {
        assertAccepted(hello(b -> b.setPeerPid(4242)), -1);
        assertAccepted(hello(b -> b.setPeerPid(4242)), 0);
    }

    @Test
    void aPeerPidIsComparedAsAnUnsignedValue() {
        assertAccepted(hello(b -> b.setPeerPid(-1)), 0xFFFF_FFFFL);
        assertThat(rejection(hello(b -> b.setPeerPid(-1)), 1).errorCode()).isEqualTo(ErrorCode.ERROR_PEER_REJECTED);
    }
}
