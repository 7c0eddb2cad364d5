// Package container holds pysup's container-level tests: the root
// Dockerfile and the examples' Dockerfiles built and run with real podman
// (runc, rootful, no registry: the Python base image comes from debootstrap
// and is cached between runs). The package has no code of its own.
package container
