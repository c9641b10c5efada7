package io.handoffbroker.config;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.PeerPolicy;
import io.handoffbroker.server.ServerSettings;
import io.handoffbroker.unix.DefaultSocketPath;
import io.handoffbroker.unix.ProcessUser;
import io.handoffbroker.unix.SocketFile;
import io.handoffbroker.wire.SemVer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;

/**
 * Turns validated {@link BrokerProperties} into the plain-Java settings of the
 * broker, checking the combinations that single-field validation cannot see
 * (duplicate backends, a collision with the demo service). Every message names
 * the offending key.
 */
public final class BrokerSettings {

    /** The name the built-in demo service is registered under. */
    public static final String DEMO_SERVICE = "echo";

    private BrokerSettings() {
    }

    /**
     * Whether {@code key}, given twice on the command line, is a mistake to refuse: a broker
     * setting of one value, which Spring Boot would set to both values joined with a comma.
     */
    public static boolean givenTwiceIsAMistake(ConfigurationPropertyName key) {
        return KnownBrokerKeys.isBrokerSettingOfOneValue(key);
    }

    public static Path socketPath(BrokerProperties properties) {
        Path configured = properties.getSocketPath();
        return configured != null ? addressable(configured.toAbsolutePath(), "broker.socket-path")
                : addressable(DefaultSocketPath.resolve(), "broker.socket-path (its default)");
    }

    /**
     * {@code path}, if a Unix socket address can hold it: junixsocket cuts a longer one short
     * without a word, and binds or connects to another path than the one configured.
     */
    static Path addressable(Path path, String key) {
        String tooLong = SocketFile.tooLongForAnAddress(path.toString());
        if (tooLong != null) {
            throw BrokerStartupException.setting(key + ": " + path + " " + tooLong + " (choose a shorter directory)");
        }
        return path;
    }

    public static ServerSettings server(BrokerProperties properties) {
        return new ServerSettings(socketPath(properties), properties.getHelloTimeout(),
                properties.getMaxConnections(), properties.getBacklog(), peerPolicy(properties.getPeer()));
    }

    public static io.handoffbroker.handoff.HandoffSettings handoff(BrokerProperties properties) {
        BrokerProperties.Handoff h = properties.getHandoff();
        return new io.handoffbroker.handoff.HandoffSettings(h.isEnabled(), h.getAckDeadline(), h.getAckGracePeriod(),
                h.getTokenTtl(), h.getMaxPendingTokens(), h.getFailedAttemptLimit(), h.getFailedAttemptWindow(),
                h.getWorkers(), new io.handoffbroker.handoff.PoolSettings(h.getPoolSize(), h.getPoolMinIdle(),
                        h.getPoolBorrowTimeout(), h.getDialTimeout(), h.getPoolMaintenanceInterval()));
    }

    static PeerPolicy peerPolicy(BrokerProperties.Peer peer) {
        return switch (peer.getPolicy()) {
            case SAME_UID -> new PeerPolicy.SameUid(ProcessUser.uid());
            case ANY -> new PeerPolicy.Any();
            case ALLOW_LIST -> new PeerPolicy.AllowedUids(new HashSet<>(peer.getAllowedUids()));
        };
    }

    /** Where the demo service's sockets live. */
    public static Path demoDirectory(BrokerProperties properties) {
        Path configured = properties.getDemo().getDirectory();
        if (configured != null) {
            return configured.toAbsolutePath();
        }
        Path parent = Objects.requireNonNull(socketPath(properties).getParent());
        return parent.resolve("demo");
    }

    /** The demo backend, as the catalog lists it. */
    public static ServiceBackend demoBackend(BrokerProperties properties) {
        Path dir = demoDirectory(properties);
        String key = properties.getDemo().getDirectory() != null ? "broker.demo.directory"
                : "broker.demo.directory (its default, next to broker.socket-path)";
        return new ServiceBackend(DEMO_SERVICE, SemVer.parse(properties.getDemo().getVersion()),
                addressable(dir.resolve("echo-backend.sock"), key),
                Optional.of(addressable(dir.resolve("echo-handoff.sock"), key)), true, Optional.empty(), List.of(),
                // It runs in this process: any other user at its handoff endpoint replaced the socket.
                Set.of(ProcessUser.uid()));
    }

    public static ServiceCatalog catalog(BrokerProperties properties) {
        List<ServiceBackend> backends = new ArrayList<>();
        Map<String, String> keyOf = new HashMap<>();
        if (properties.getDemo().isEnabled()) {
            ServiceBackend demo = demoBackend(properties);
            backends.add(demo);
            keyOf.put(demo.label(), "the built-in demo service (broker.demo.enabled)");
        }
        List<BrokerProperties.Service> services = properties.getServices();
        for (int i = 0; i < services.size(); i++) {
            String key = "broker.services[" + i + "]";
            ServiceBackend backend = toBackend(services.get(i), key);
            String previous = keyOf.putIfAbsent(backend.label(), key);
            if (previous != null) {
                throw BrokerStartupException.setting(key + ": service " + backend.label() + " is already configured by "
                        + previous + "; each name and version may appear once");
            }
            backends.add(backend);
        }
        refuseEntriesTheirPolicyBlocks(backends, keyOf);
        refuseOneEndpointWithTwoOwners(backends, keyOf);
        refuseEndpointsInTheWrongRole(backends, keyOf, socketPath(properties).toAbsolutePath().normalize());
        if (backends.isEmpty()) {
            // It would start, report itself healthy, and refuse every Hello SERVICE_UNKNOWN.
            throw BrokerStartupException.setting("no service to broker: broker.services is empty and the built-in demo "
                    + "is off (broker.demo.enabled=false); configure at least one service under broker.services");
        }
        return new ServiceCatalog(backends);
    }

    /**
     * The version policy of a service is the strictest of all its entries (as the negotiator applies it),
     * so an entry can block another: its backend could then never be negotiated, and with
     * allow-lists that share no version, no Hello for the service could. A configuration
     * mistake, refused here rather than found in production.
     */
    private static void refuseEntriesTheirPolicyBlocks(List<ServiceBackend> backends, Map<String, String> keyOf) {
        for (ServiceBackend entry : backends) {
            for (ServiceBackend rule : backends) {
                if (!rule.name().equals(entry.name())) {
                    continue;
                }
                String blocked = null;
                if (rule.belowMinVersion(entry.version())) {
                    blocked = "below min-version " + rule.minVersion().orElseThrow();
                } else if (rule.notAllowed(entry.version())) {
                    blocked = "not in allowed-versions " + rule.allowedVersions();
                }
                if (blocked != null) {
                    throw BrokerStartupException.setting(keyOf.get(entry.label()) + ": " + entry.label()
                            + " could never be negotiated: its version is " + blocked + " of "
                            + keyOf.get(rule.label()) + " (the version policy of all entries of a service applies "
                            + "to every Hello for it)");
                }
            }
        }
    }

    /**
     * One handoff endpoint has one listener, which runs as one user: entries that hand
     * connections to the same endpoint must allow the same uids there, or one of them would
     * hand connections to a listener the other refuses.
     */
    private static void refuseOneEndpointWithTwoOwners(List<ServiceBackend> backends, Map<String, String> keyOf) {
        Map<Path, ServiceBackend> first = new HashMap<>();
        for (ServiceBackend entry : backends) {
            if (!entry.acceptsHandoffs()) {
                continue;
            }
            Path endpoint = entry.handoffEndpoint().orElseThrow();
            ServiceBackend other = first.putIfAbsent(endpoint, entry);
            if (other != null && !other.handoffEndpointUids().equals(entry.handoffEndpointUids())) {
                throw BrokerStartupException.setting(keyOf.get(entry.label()) + ".handoff-endpoint-uids: "
                        + describeUids(entry) + " at handoff-endpoint " + endpoint + ", where "
                        + keyOf.get(other.label()) + " allows " + describeUids(other) + "; entries that share a "
                        + "handoff-endpoint must allow the same uids");
            }
        }
    }

    /**
     * Each path has one listener, which speaks one protocol: a backend's own endpoint speaks the
     * service's, a handoff endpoint the control exchange, the broker's socket the Hello. A path
     * named in two of those roles hands clients to a listener that cannot serve them (descriptors
     * passed to a data listener, clients sent to the broker itself as their backend_pipe); the
     * health checks would not tell, since every one of those listeners accepts.
     */
    private static void refuseEndpointsInTheWrongRole(List<ServiceBackend> backends, Map<String, String> keyOf,
            Path brokerSocket) {
        Map<Path, String> backendEndpoints = new HashMap<>();
        for (ServiceBackend entry : backends) {
            backendEndpoints.putIfAbsent(entry.backendEndpoint().normalize(), keyOf.get(entry.label()));
        }
        for (ServiceBackend entry : backends) {
            String key = keyOf.get(entry.label());
            Path backendEndpoint = entry.backendEndpoint().normalize();
            if (backendEndpoint.equals(brokerSocket)) {
                throw BrokerStartupException.setting(key + ".backend-endpoint " + backendEndpoint
                        + " is the broker's own socket (broker.socket-path): clients would be sent back to the "
                        + "broker as their backend");
            }
            if (entry.handoffEndpoint().isEmpty()) {
                continue;
            }
            Path handoffEndpoint = entry.handoffEndpoint().get().normalize();
            if (handoffEndpoint.equals(brokerSocket)) {
                throw BrokerStartupException.setting(key + ".handoff-endpoint " + handoffEndpoint
                        + " is the broker's own socket (broker.socket-path)");
            }
            String dataOwner = backendEndpoints.get(handoffEndpoint);
            if (dataOwner != null) {
                throw BrokerStartupException.setting(key + ".handoff-endpoint " + handoffEndpoint + " is the "
                        + "backend-endpoint of " + dataOwner + ": a backend listens for handoffs and for its "
                        + "clients on a path each (the backend SDK refuses one path for both)");
            }
        }
    }

    private static String describeUids(ServiceBackend backend) {
        return backend.handoffEndpointUids().isEmpty() ? "any uid" : "uids " + backend.handoffEndpointUids();
    }

    private static ServiceBackend toBackend(BrokerProperties.Service service, String key) {
        String name = require(service.getName(), key + ".name");
        String version = require(service.getVersion(), key + ".version");
        Path backendEndpoint = addressable(require(service.getBackendEndpoint(), key + ".backend-endpoint")
                .toAbsolutePath(), key + ".backend-endpoint");
        Optional<Path> handoffEndpoint = Optional.ofNullable(service.getHandoffEndpoint())
                .map(p -> addressable(p.toAbsolutePath(), key + ".handoff-endpoint"));
        boolean handoffEnabled = service.getHandoffEnabled() != null ? service.getHandoffEnabled()
                : handoffEndpoint.isPresent();
        Optional<SemVer> minVersion = Optional.ofNullable(service.getMinVersion()).map(SemVer::parse);
        List<String> allowed = service.getAllowedVersions().stream().map(v -> SemVer.parse(v).toString()).toList();
        return new ServiceBackend(name, SemVer.parse(version), backendEndpoint, handoffEndpoint,
                handoffEnabled, minVersion, allowed, Set.copyOf(service.getHandoffEndpointUids()));
    }

    private static <T> T require(T value, String key) {
        if (value == null) {
            throw BrokerStartupException.setting(key + " is required");
        }
        return value;
    }
}
