"""People: talent profiles of science and technology workers, one identity across societies."""
