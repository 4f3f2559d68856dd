from tests.lab.fixtures import handler, lab_image, lab_project, lab_settings

__all__ = ["handler", "lab_image", "lab_project", "lab_settings"]
