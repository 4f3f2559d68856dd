from tests.lab.fixtures import lab_image, lab_project, lab_settings

__all__ = ["lab_image", "lab_project", "lab_settings"]
