package io.handoffbroker.negotiation;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The configured backends, looked up by service name. A name may repeat with
 * other versions; a (name, version) pair may not. Immutable once built.
 */
public final class ServiceCatalog {

    private final Map<String, List<ServiceBackend>> byName;
    private final List<ServiceBackend> all;

    public ServiceCatalog(List<ServiceBackend> backends) {
        Map<String, List<ServiceBackend>> map = new LinkedHashMap<>();
        for (ServiceBackend backend : backends) {
            List<ServiceBackend> versions = map.computeIfAbsent(backend.name(), n -> new ArrayList<>());
            for (ServiceBackend existing : versions) {
                if (existing.version().equals(backend.version())) {
                    throw new IllegalArgumentException("service " + backend.label() + " is configured twice");
                }
            }
            versions.add(backend);
        }
        map.replaceAll((name, versions) -> List.copyOf(versions));
        this.byName = Collections.unmodifiableMap(map);
        this.all = List.copyOf(backends);
    }

    /** Every backend of the name, in configuration order; empty when the name is unknown. */
    public List<ServiceBackend> versionsOf(String serviceName) {
        return byName.getOrDefault(serviceName, List.of());
    }

    public List<ServiceBackend> all() {
        return all;
    }

    public boolean isEmpty() {
        return all.isEmpty();
    }
}
