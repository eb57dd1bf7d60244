"""What the tests and the benchmarks both stand on: a throw-away MariaDB server (mariadb), an
HTTP client of the GUI (gui_client), and the VM lab's network of namespaces (topology), its
lvs.cf texts (lvscf) and its two directors (two_directors). bench/ imports these, never tests/."""
