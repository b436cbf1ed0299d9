"""usi.study"""
