package io.handoffbroker.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The keys the broker binds, and the known key a misspelt one is taken to mean. */
class KnownBrokerKeysTest {

    @Test
    void theKnownKeysAreTheGeneratedMetadatasAndTheServiceEntriesKeys() throws Exception {
        List<String> inMetadata = new ArrayList<>();
        try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            for (JsonNode property : JsonMapper.shared().readTree(in).get("properties")) {
                String name = property.get("name").asString();
                if (name.startsWith("broker.")) {
                    inMetadata.add(property.get("type").asString().startsWith("java.util.List") ? name + "[]" : name);
                }
            }
        }
        assertThat(inMetadata).as("the build's metadata").isNotEmpty();
        List<String> expected = new ArrayList<>(inMetadata);
        expected.remove("broker.services[]"); // its entries' keys instead
        expected.addAll(List.of("broker.services[].name", "broker.services[].version",
                "broker.services[].backend-endpoint", "broker.services[].handoff-endpoint",
                "broker.services[].handoff-enabled", "broker.services[].handoff-endpoint-uids[]",
                "broker.services[].min-version", "broker.services[].allowed-versions[]"));
        assertThat(KnownBrokerKeys.all()).containsExactlyInAnyOrderElementsOf(expected);
    }

    @Test
    void aSlipOfTheKeyboardIsTakenForTheClosestKnownKeyWithItsOwnIndexes() {
        assertThat(KnownBrokerKeys.closestTo("broker.hello-timout")).isEqualTo("broker.hello-timeout");
        assertThat(KnownBrokerKeys.closestTo("broker.services[0].verison")).isEqualTo("broker.services[0].version");
        assertThat(KnownBrokerKeys.closestTo("broker.services[3].alowed-versions[1]"))
                .isEqualTo("broker.services[3].allowed-versions[1]");
        assertThat(KnownBrokerKeys.closestTo("broker.handoff.ack-dedline")).isEqualTo("broker.handoff.ack-deadline");
        assertThat(KnownBrokerKeys.closestTo("broker.no-such-setting-at-all")).as("nothing close").isNull();
        assertThat(KnownBrokerKeys.closestTo("broker.x")).isNull();
        // The bounds themselves: a sixth of the length (4 edits at 26 characters), two for a short key.
        assertThat(KnownBrokerKeys.closestTo("broker.handoff.poolminidel")).isEqualTo("broker.handoff.pool-min-idle");
        assertThat(KnownBrokerKeys.closestTo("broker.backl")).isEqualTo("broker.backlog");
        assertThat(KnownBrokerKeys.closestTo("broker.handoff.ack-deadline-millis")).as("7 edits at 34").isNull();
        // A suggestion is a key that binds: a list of values set whole, an element with an index.
        assertThat(KnownBrokerKeys.closestTo("broker.peer.alowed-uids")).isEqualTo("broker.peer.allowed-uids");
        assertThat(KnownBrokerKeys.closestTo("broker.services.name")).isEqualTo("broker.services[0].name");
    }
}
