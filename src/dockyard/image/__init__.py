"""dockyard.image"""
