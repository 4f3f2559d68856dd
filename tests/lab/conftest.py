from tests.lab.fixtures import handler, https_repo, lab_image, lab_project, lab_settings

__all__ = ["handler", "https_repo", "lab_image", "lab_project", "lab_settings"]
