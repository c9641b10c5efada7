package io.handoffbroker.negotiation;

import io.handoffbroker.wire.SemVer;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * One configured backend: a service name at one version, the endpoint clients
 * reconnect to ({@code backend_pipe}) and, optionally, the endpoint that accepts
 * handed-off connections.
 *
 * @param minVersion the lowest {@code wanted_version} this service accepts, if any
 * @param allowedVersions an exact allow-list of {@code wanted_version}s; empty means any
 * @param handoffEndpointUids the uids the process listening at the handoff endpoint may run as;
 *     empty means any. The broker hands client connections only to a listener running as one of them.
 */
public record ServiceBackend(
        String name,
        SemVer version,
        Path backendEndpoint,
        Optional<Path> handoffEndpoint,
        boolean handoffEnabled,
        Optional<SemVer> minVersion,
        List<String> allowedVersions,
        Set<Long> handoffEndpointUids) {

    public ServiceBackend {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(backendEndpoint, "backendEndpoint");
        allowedVersions = List.copyOf(allowedVersions);
        handoffEndpointUids = uids(handoffEndpointUids);
    }

    /** A backend whose handoff endpoint may be run by any uid. */
    public ServiceBackend(String name, SemVer version, Path backendEndpoint, Optional<Path> handoffEndpoint,
            boolean handoffEnabled, Optional<SemVer> minVersion, List<String> allowedVersions) {
        this(name, version, backendEndpoint, handoffEndpoint, handoffEnabled, minVersion, allowedVersions, Set.of());
    }

    /** A backend with no handoff endpoint and no version policy. */
    public static ServiceBackend reconnectOnly(String name, String version, Path backendEndpoint) {
        return new ServiceBackend(name, SemVer.parse(version), backendEndpoint, Optional.empty(), false,
                Optional.empty(), List.of());
    }

    /** True when this backend can be handed connections: it has an endpoint for them and handoff is on. */
    public boolean acceptsHandoffs() {
        return handoffEnabled && handoffEndpoint.isPresent();
    }

    /** This backend, handing connections only to a handoff endpoint listener of one of {@code uids} (empty: any). */
    public ServiceBackend withHandoffEndpointUids(Collection<Long> uids) {
        return new ServiceBackend(name, version, backendEndpoint, handoffEndpoint, handoffEnabled, minVersion,
                allowedVersions, Set.copyOf(uids));
    }

    /** True when this entry's {@code min-version} refuses {@code wanted}. */
    public boolean belowMinVersion(SemVer wanted) {
        return minVersion.isPresent() && wanted.compareTo(minVersion.get()) < 0;
    }

    /** True when this entry's allow-list is set and does not hold {@code wanted}. */
    public boolean notAllowed(SemVer wanted) {
        return !allowedVersions.isEmpty() && !allowedVersions.contains(wanted.toString());
    }

    /** {@code name@version}, the way logs and metrics name a backend. */
    public String label() {
        return name + "@" + version;
    }

    // Sorted, so that logs and messages list them in order.
    private static Set<Long> uids(Set<Long> uids) {
        for (Long uid : uids) {
            Objects.requireNonNull(uid, "handoffEndpointUids holds null");
        }
        return Collections.unmodifiableSortedSet(new TreeSet<>(uids));
    }
}
