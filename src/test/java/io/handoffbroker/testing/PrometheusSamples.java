package io.handoffbroker.testing;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The samples of one scrape in the Prometheus text format, keyed
 * {@code name{label="value",...}} with the labels sorted by name, so a key is the
 * same whatever order the exporter wrote them in.
 */
public final class PrometheusSamples {

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})?\\s+(\\S+)(?:\\s+\\d+)?$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

    private final Map<String, Double> samples;

    private PrometheusSamples(Map<String, Double> samples) {
        this.samples = samples;
    }

    public static PrometheusSamples parse(String text) {
        Map<String, Double> samples = new TreeMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line.strip());
            if (!m.matches()) {
                throw new IllegalArgumentException("not a sample line: " + line);
            }
            Map<String, String> labels = new TreeMap<>();
            if (m.group(2) != null) {
                Matcher l = LABEL.matcher(m.group(2));
                int end = 0;
                while (l.find() && l.start() == end) {
                    labels.put(l.group(1), l.group(2));
                    end = l.end();
                }
                if (end != m.group(2).length()) {
                    throw new IllegalArgumentException("labels not understood: " + line);
                }
            }
            String sampleKey = key(m.group(1), labels);
            if (samples.put(sampleKey, Double.parseDouble(m.group(3))) != null) {
                throw new IllegalArgumentException("the scrape has " + sampleKey + " twice");
            }
        }
        return new PrometheusSamples(samples);
    }

    /** The names of the series in the scrape, without their labels. */
    public Set<String> names() {
        Set<String> names = new TreeSet<>();
        for (String sampleKey : samples.keySet()) {
            int brace = sampleKey.indexOf('{');
            names.add(brace < 0 ? sampleKey : sampleKey.substring(0, brace));
        }
        return names;
    }

    /** {@code name{a="x",b="y"}} from a name and label pairs in any order. */
    public static String key(String name, String... labelPairs) {
        Map<String, String> labels = new TreeMap<>();
        for (int i = 0; i < labelPairs.length; i += 2) {
            labels.put(labelPairs[i], labelPairs[i + 1]);
        }
        return key(name, labels);
    }

    private static String key(String name, Map<String, String> labels) {
        if (labels.isEmpty()) {
            return name;
        }
        StringBuilder key = new StringBuilder(name).append('{');
        labels.forEach((k, v) -> key.append(k).append("=\"").append(v).append("\","));
        key.setLength(key.length() - 1);
        return key.append('}').toString();
    }

    /** The value of the sample; fails when the scrape does not have it. */
    public double get(String name, String... labelPairs) {
        String key = key(name, labelPairs);
        Double value = samples.get(key);
        if (value == null) {
            throw new AssertionError("the scrape has no sample " + key);
        }
        return value;
    }

    /** The sum over every sample of the name, whatever its labels. */
    public double sum(String name) {
        return samples.entrySet().stream()
                .filter(e -> e.getKey().equals(name) || e.getKey().startsWith(name + "{"))
                .mapToDouble(Map.Entry::getValue).sum();
    }

    /** Every sample of the name, whatever its labels and value. */
    public Map<String, Double> all(String name) {
        Map<String, Double> out = new TreeMap<>();
        samples.forEach((key, value) -> {
            if (key.equals(name) || key.startsWith(name + "{")) {
                out.put(key, value);
            }
        });
        return out;
    }

    /** Every sample whose name is one of {@code names} and whose value is not zero. */
    public Map<String, Double> nonZero(String... names) {
        Map<String, Double> out = new TreeMap<>();
        samples.forEach((key, value) -> {
            String name = key.contains("{") ? key.substring(0, key.indexOf('{')) : key;
            for (String wanted : names) {
                if (name.equals(wanted) && value != 0) {
                    out.put(key, value);
                }
            }
        });
        return out;
    }
}
