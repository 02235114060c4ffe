"""What the template's tests and its benchmark both need from the machine: the template's paths,
Pythons and tools, throwaway databases, a container engine, the commands they run."""
