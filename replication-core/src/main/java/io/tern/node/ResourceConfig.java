package io.tern.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * What {@code resource.properties} says about a resource: its size, where its data lives, this
 * node's role for it and the current epoch.
 */
public record ResourceConfig(String name, long size, Path data, Role role, long epoch) {
    /** A node's role for a resource. */
    public enum Role { Primary, Secondary }

    public static ResourceConfig load(Path resourceDir) throws IOException {
        Properties p = NodeHome.load(resourceDir.resolve("resource.properties"));
        try {
            return new ResourceConfig(p.getProperty("name"), Long.parseLong(p.getProperty("size")),
                    Path.of(p.getProperty("data")), Role.valueOf(p.getProperty("role")),
                    Long.parseLong(p.getProperty("epoch")));
        } catch (RuntimeException e) {
            throw new IllegalStateException(resourceDir.resolve("resource.properties") + " is damaged: " + e, e);
        }
    }

    public void store(Path resourceDir) throws IOException {
        Files.createDirectories(resourceDir);
        Properties p = new Properties();
        p.setProperty("name", name);
        p.setProperty("size", Long.toString(size));
        p.setProperty("data", data.toString());
        p.setProperty("role", role.name());
        p.setProperty("epoch", Long.toString(epoch));
        NodeHome.store(resourceDir.resolve("resource.properties"), p);
    }
}
