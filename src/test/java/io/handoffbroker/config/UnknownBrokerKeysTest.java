package io.handoffbroker.config;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.core.env.MapPropertySource;
import org.springframework.core.env.SimpleCommandLinePropertySource;
import org.springframework.core.env.StandardEnvironment;

/**
 * Unknown {@code broker.*} keys are found in each source that sets them, and a list one
 * source replaces does not make the replaced elements' keys look unknown.
 */
class UnknownBrokerKeysTest {

    private static final Map<String, Object> FILE = Map.of(
            "broker.services[0].name", "echo",
            "broker.services[0].version", "1.0.0",
            "broker.services[0].backend-endpoint", "/run/echo/backend.sock",
            "broker.services[0].allowed-versions[0]", "1.0.0",
            "broker.services[0].handoff-endpoint-uids[0]", "1000",
            "broker.services[1].name", "other",
            "broker.services[1].version", "2.0.0",
            "broker.services[1].backend-endpoint", "/run/other/backend.sock");

    private static StandardEnvironment environment(String... commandLine) {
        StandardEnvironment environment = new StandardEnvironment();
        environment.getPropertySources().addFirst(new MapPropertySource("file", FILE));
        environment.getPropertySources().addFirst(new SimpleCommandLinePropertySource(commandLine));
        return environment;
    }

    @Test
    void aListTheCommandLineSetsReplacesTheFilesWithoutItsElementsKeysTakenForUnknownOnes() {
        StandardEnvironment environment = environment("--broker.services[0].name=billing",
                "--broker.services[0].version=2.4.1", "--broker.services[0].backend-endpoint=/run/billing/backend.sock");
        assertThatCode(() -> UnknownBrokerKeys.check(environment)).doesNotThrowAnyException();
    }

    @Test
    void aMisspeltKeyIsFoundInWhicheverSourceSetsIt() {
        assertThatThrownBy(() -> UnknownBrokerKeys.check(environment("--broker.services[0].name=billing",
                "--broker.services[0].verison=2.4.1")))
                .hasMessageStartingWith("unknown configuration key(s), misspelt perhaps: broker.services[0].verison"
                        + " (did you mean broker.services[0].version?)"
                        + " (\"broker.services[0].verison\" from property source \"commandLineArgs\")")
                .hasMessageNotContaining("allowed-versions");

        StandardEnvironment misspeltInTheFile = environment("--broker.services[0].name=billing");
        misspeltInTheFile.getPropertySources().addLast(new MapPropertySource("older file",
                Map.of("broker.services[0].alowed-versions[0]", "1.0.0")));
        assertThatThrownBy(() -> UnknownBrokerKeys.check(misspeltInTheFile))
                .hasMessageStartingWith("unknown configuration key(s), misspelt perhaps:"
                        + " broker.services[0].alowed-versions[0]")
                .hasMessageContaining("(did you mean broker.services[0].allowed-versions[0]?)")
                .as("the file's own, correctly spelt allowed-versions[0] is not among the unknown")
                .hasMessageNotContaining("\"broker.services[0].allowed-versions[0]\" from property source");
    }
}
